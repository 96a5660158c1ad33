package main

import (
	"bufio"
	"context"
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
// file's extra keys) and the demo data, in process, until stop is
// called or the test ends. It returns the banner, whose url is https://,
// and the pool that trusts the server's certificate.
func startTLSServe(t *testing.T, extra string) (b banner, pool *x509.CertPool, stop func()) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir, "mixed")
	file := filepath.Join(dir, "keygate.yaml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf("listen: 127.0.0.1:0\ndb: memory\ndemo: true\ntls: {cert: %q, key: %q}\n%s",
		certFile, keyFile, extra)), 0o600))
	cfg, err := parseServe([]string{"--config", file}, noEnv, io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := runServe(ctx, cfg, stdoutW, &stderr)
		stdoutW.CloseWithError(err)
		done <- err
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done, "stderr: %s", stderr.String())
		}
	}
	t.Cleanup(stop)
	b = readAnyBanner(t, stdoutR)
	require.True(t, strings.HasPrefix(b.url, "https://"), b.url)
	return b, trustFile(t, x509.NewCertPool(), certFile), stop
}

// TestServeHTTPSOnlyPlainHTTP: with tls and https_only, keygate answers
// TLS and plain HTTP on its one port. Over plain HTTP a credential (an
// API key, a signature, the token endpoint's client credentials) is
// refused with keygate's 400 "HTTPS is required", audited with reason
// insecure_transport, and a request without a credential is served
// (without HSTS); over TLS the same key is let in, over HTTP/2.
func TestServeHTTPSOnlyPlainHTTP(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	b, pool, stop := startTLSServe(t, fmt.Sprintf("https_only: true\naudit_file: %q\n", audit))
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
	assert.JSONEq(t, refusal, string(r.body))
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

	stop() // flushes the audit file
	raw, err := os.ReadFile(audit)
	require.NoError(t, err)
	for _, secret := range b.secrets() {
		if secret != "" {
			assert.NotContains(t, string(raw), secret)
		}
	}
	insecure := map[string]int{} // by path
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var e map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		if e["reason"] == "insecure_transport" {
			assert.Equal(t, float64(http.StatusBadRequest), e["status"], sc.Text())
			assert.Equal(t, "deny", e["decision"], sc.Text())
			insecure[e["path"].(string)]++
		}
	}
	assert.Equal(t, map[string]int{"/v1/whoami": 2, "/oauth/token": 1}, insecure, "one insecure_transport event per refusal")
}

// TestServeTLSOnlyWithoutHTTPSOnly: with tls and without https_only, the
// port stays TLS only: plain HTTP gets Go's own 400, not keygate's.
func TestServeTLSOnlyWithoutHTTPSOnly(t *testing.T) {
	b, pool, _ := startTLSServe(t, "")
	plain := gatewayClient{t: t, b: b, client: httpClient(t)}
	r := plain.get("http://"+strings.TrimPrefix(b.url, "https://")+"/healthz", "")
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, string(r.body), "Client sent an HTTP request to an HTTPS server")

	secure := gatewayClient{t: t, b: b, client: h2Client(pool)}
	t.Cleanup(secure.client.CloseIdleConnections)
	r = secure.get(b.url+"/v1/whoami", b.secret)
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// TestMixedListener: a connection is handed over as TLS when it starts a
// TLS handshake, else as it is with its first byte read again; one that
// sends nothing is closed after the timeout, and one still awaited when
// the listener closes is closed with it.
func TestMixedListener(t *testing.T) {
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

	t.Run("plain", func(t *testing.T) {
		l := newListener(t, time.Minute)
		c := dial(t, l)
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\n")
		require.NoError(t, err)
		s, err := l.Accept()
		require.NoError(t, err)
		defer s.Close()
		_, isTLS := s.(*tls.Conn)
		assert.False(t, isTLS)
		got := make([]byte, len("GET / HTTP/1.1\r\n"))
		_, err = io.ReadFull(s, got)
		require.NoError(t, err)
		assert.Equal(t, "GET / HTTP/1.1\r\n", string(got), "the first byte is read again")
	})
	t.Run("tls", func(t *testing.T) {
		l := newListener(t, time.Minute)
		c := dial(t, l)
		_, err := c.Write([]byte{tlsHandshakeRecord, 3, 1})
		require.NoError(t, err)
		s, err := l.Accept()
		require.NoError(t, err)
		defer s.Close()
		_, isTLS := s.(*tls.Conn)
		assert.True(t, isTLS)
	})
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
