package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startTLSServe runs serve from a configuration file with tls (and the
// file's extra keys) and the demo data, in process, until the test ends.
// It returns the banner, whose url is https://, and the pool that trusts
// the server's certificate.
func startTLSServe(t *testing.T, extra string) (banner, *x509.CertPool) {
	t.Helper()
	certFile, keyFile := writeTestCert(t, t.TempDir(), "mixed")
	b := startConfigServe(t, fmt.Sprintf("listen: 127.0.0.1:0\ndb: memory\ndemo: true\ntls: {cert: %q, key: %q}\n%s",
		certFile, keyFile, extra))
	require.True(t, strings.HasPrefix(b.url, "https://"), b.url)
	return b, trustFile(t, x509.NewCertPool(), certFile)
}

// TestServeHTTPSOnlyPlainHTTP: with tls and https_only, keygate answers
// TLS and plain HTTP on its one port. Over plain HTTP a credential (an
// API key, a signature, the token endpoint's client credentials) is
// refused with keygate's 400 "HTTPS is required", audited with reason
// insecure_transport, and a request without a credential is served
// (without HSTS); over TLS the same key is let in, over HTTP/2.
func TestServeHTTPSOnlyPlainHTTP(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	b, pool := startTLSServe(t, fmt.Sprintf("https_only: true\naudit_file: %q\n", audit))
	plainURL := "http://" + strings.TrimPrefix(b.url, "https://")

	secure := gatewayClient{t: t, b: b, client: h2Client(pool)}
	t.Cleanup(secure.client.CloseIdleConnections)
	resp, err := secure.client.Get(b.url + "/v1/whoami")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2 negotiated")
	r := secure.get(b.url+"/v1/whoami", b.secret)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, hstsValue, r.header.Get("Strict-Transport-Security"))

	plain := gatewayClient{t: t, b: b, client: httpClient(t)}
	const refusal = `{"error":"invalid_request","error_description":"HTTPS is required"}`
	r = plain.get(plainURL+"/v1/whoami", b.secret)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.JSONEq(t, refusal, string(r.body), "keygate's refusal, not Go's answer to plain HTTP on a TLS port")
	assert.Empty(t, r.header.Get("Strict-Transport-Security"), "no HSTS over plain HTTP")
	r = plain.signedGet(plainURL + "/v1/whoami")
	require.Equal(t, http.StatusBadRequest, r.status, "a signed request: %s", r.body)
	assert.JSONEq(t, refusal, string(r.body))
	r = postForm(t, plainURL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, keyID(b.secret), b.secret)
	require.Equal(t, http.StatusBadRequest, r.status, "the token endpoint: %s", r.body)
	assert.JSONEq(t, refusal, string(r.body))

	// Without a credential, plain HTTP is served.
	r = plain.get(plainURL+"/healthz", "")
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Empty(t, r.header.Get("Strict-Transport-Security"))

	// The audit file, as its writer flushes it.
	var raw []byte
	var insecure map[string]int // by path
	want := map[string]int{"/v1/whoami": 2, "/oauth/token": 1}
	eventually(t, 20*time.Millisecond, "one insecure_transport event per refusal", func() bool {
		var err error
		raw, err = os.ReadFile(audit)
		require.NoError(t, err)
		insecure = map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			var e map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
			if e["reason"] == "insecure_transport" {
				assert.Equal(t, float64(http.StatusBadRequest), e["status"], sc.Text())
				assert.Equal(t, "deny", e["decision"], sc.Text())
				insecure[e["path"].(string)]++
			}
		}
		return len(insecure) == len(want) && insecure["/v1/whoami"] >= 2
	})
	assert.Equal(t, want, insecure)
	for _, secret := range b.secrets() {
		if secret != "" {
			assert.NotContains(t, string(raw), secret)
		}
	}
}

// TestServeTLSOnlyWithoutHTTPSOnly: with tls and without https_only, the
// port stays TLS only: plain HTTP gets Go's own 400, not keygate's.
func TestServeTLSOnlyWithoutHTTPSOnly(t *testing.T) {
	b, pool := startTLSServe(t, "")
	plain := gatewayClient{t: t, b: b, client: httpClient(t)}
	r := plain.get("http://"+strings.TrimPrefix(b.url, "https://")+"/healthz", "")
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, string(r.body), "Client sent an HTTP request to an HTTPS server")

	secure := gatewayClient{t: t, b: b, client: h2Client(pool)}
	t.Cleanup(secure.client.CloseIdleConnections)
	r = secure.get(b.url+"/v1/whoami", b.secret)
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// TestTLSMixedListener: a connection is handed over as TLS when it starts a
// TLS handshake, else as it is with its first byte read again; one that
// sends nothing is closed after the timeout, and one still awaited when
// the listener closes is closed with it.
func TestTLSMixedListener(t *testing.T) {
	newListener := func(t *testing.T, timeout time.Duration) *mixedListener {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		l := newMixedListener(inner, &tls.Config{}, timeout)
		t.Cleanup(func() { l.Close() })
		return l
	}
	dial := func(t *testing.T, l net.Listener) net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closed reports that the server closed c: the client reads EOF
	// (or a reset).
	closed := func(t *testing.T, c net.Conn) {
		_, err := c.Read(make([]byte, 1))
		require.Error(t, err, "the server closes the connection")
	}

	for _, tc := range []struct {
		name  string
		sent  string
		isTLS bool
	}{
		{"plain", "GET / HTTP/1.1\r\n", false},
		{"tls", string([]byte{tlsHandshakeRecord, 3, 1}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newListener(t, time.Minute)
			_, err := io.WriteString(dial(t, l), tc.sent)
			require.NoError(t, err)
			s, err := l.Accept()
			require.NoError(t, err)
			defer s.Close()
			_, isTLS := s.(*tls.Conn)
			require.Equal(t, tc.isTLS, isTLS)
			if !isTLS {
				got := make([]byte, len(tc.sent))
				_, err = io.ReadFull(s, got)
				require.NoError(t, err)
				assert.Equal(t, tc.sent, string(got), "the first byte is read again")
			}
		})
	}
	t.Run("silent client closed after the timeout", func(t *testing.T) {
		l := newListener(t, 50*time.Millisecond)
		go l.Accept() // starts accepting; never returns a connection here
		closed(t, dial(t, l))
	})
	t.Run("awaited connection closed with the listener", func(t *testing.T) {
		l := newListener(t, 0)
		accepted := make(chan error, 1)
		go func() {
			_, err := l.Accept()
			accepted <- err
		}()
		c := dial(t, l)
		until(t, "the connection is awaited", func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return len(l.reading) == 1
		})
		require.NoError(t, l.Close())
		closed(t, c)
		assert.ErrorIs(t, <-accepted, net.ErrClosed)
	})
}
