package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/httpsig"
)

// echoUpstream is the service behind the gateway: it answers 200 with
// the headers it received, and remembers them.
type echoUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
	last http.Header
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	u := &echoUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.hits++
		u.last = r.Header.Clone()
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"upstream": true, "path": r.URL.Path})
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// host is the upstream's host:port.
func (u *echoUpstream) host() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// seen returns how many requests reached the upstream and the headers of
// the last one.
func (u *echoUpstream) seen() (int, http.Header) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits, u.last
}

// gatewayConfig is a configuration file with the demo data, and routes
// to upstream: GET /orders/{id} for DISCOVER's stores:read, which the
// demo keys hold, and GET /analytics for PRIME's analytics:export, which
// the demo account (GO) does not reach. authority is the front proxy's
// host:port, which signed requests name; extra is appended.
func gatewayConfig(upstream, authority, extra string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
db: memory
demo: true
authorities: [%q]
routes:
  - {match: "GET /orders/{id}", permission: "stores:read", tier: DISCOVER, upstream: "http://%s"}
  - {match: "GET /analytics", permission: "analytics:export", tier: PRIME, upstream: "http://%s"}
%s`, authority, upstream, upstream, extra)
}

// startConfigServe runs keygate serve --config with the file's text, in
// process, until the test ends, and returns its banner (whose url is
// https:// with tls).
func startConfigServe(t *testing.T, file string) banner {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keygate.yaml")
	require.NoError(t, os.WriteFile(path, []byte(file), 0o600))
	return readAnyBanner(t, runInProcess(t, "serve", "--config", path))
}

// runInProcess runs keygate with args in process until the test ends
// (when it must stop within 15 s, without error), and returns its
// stdout.
func runInProcess(t *testing.T, args ...string) io.Reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, stdoutW, &stderr)
		stdoutW.CloseWithError(err)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		// A server that never stops fails the test binary's -timeout.
		assert.NoError(t, <-done, "stderr: %s", stderr.String())
		stdoutR.Close()
	})
	return stdoutR
}

// scanLines sends the lines of r on the channel it returns, which is
// closed at the end of r.
func scanLines(r io.Reader) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// readAnyBanner reads serve's start lines up to "listening on URL", over
// http or https, within a time limit, then drains r in the background.
func readAnyBanner(t *testing.T, r io.Reader) banner {
	t.Helper()
	lines := scanLines(r)
	var b banner
	fields := []struct {
		pattern interface{ FindStringSubmatch(string) []string }
		into    *string
	}{
		{secretLine, &b.secret}, {publishableLine, &b.publishable}, {hmacIDLine, &b.hmacID},
		{hmacSecretLine, &b.hmacSecret}, {primeLine, &b.prime}, {adminLine, &b.admin},
	}
	timeout := time.After(20 * time.Second)
	for b.url == "" {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "stdout closed before serve listened")
			if u, ok := strings.CutPrefix(line, "listening on "); ok {
				b.url = u
			}
			for _, f := range fields {
				if m := f.pattern.FindStringSubmatch(line); m != nil {
					*f.into = m[1]
				}
			}
		case <-timeout:
			require.FailNow(t, "timed out waiting for serve to listen")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return b
}

// gatewayClient sends requests to the gateway under test.
type gatewayClient struct {
	t      *testing.T
	b      banner
	client *http.Client
}

// do sends req and returns the response, checking that no key leaked
// into it.
func (c gatewayClient) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.client.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	for _, key := range c.b.secrets() {
		if key != "" {
			require.NotContains(c.t, string(body), key, "a key leaked into a response body")
		}
	}
	return response{resp.StatusCode, resp.Header, body}
}

// get sends GET target with the bearer credential (none when empty) and
// the headers (name, value pairs).
func (c gatewayClient) get(target, credential string, headers ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	require.NoError(c.t, err)
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// signedGet sends GET target signed with the banner's HMAC credential.
func (c gatewayClient) signedGet(target string) response {
	c.t.Helper()
	secret, err := base64.StdEncoding.DecodeString(c.b.hmacSecret)
	require.NoError(c.t, err)
	req, err := http.NewRequest(http.MethodGet, target, nil)
	require.NoError(c.t, err)
	require.NoError(c.t, (&httpsig.Signer{KeyID: c.b.hmacID, Secret: secret}).Sign(req, nil))
	return c.do(req)
}

// assertOmitted checks that the header name did not reach the upstream
// (h), or, with placeholders, reached it as Caddy's literal placeholder.
func assertOmitted(t *testing.T, h http.Header, name string, placeholders bool, msgAndArgs ...any) {
	t.Helper()
	v, ok := h[name]
	if ok && placeholders {
		assert.Equal(t, []string{"{http.reverse_proxy.header." + name + "}"}, v, msgAndArgs...)
		return
	}
	assert.False(t, ok, msgAndArgs...)
}

// assertRefusal checks how a front proxy passes a refusal on: keygate's status and
// WWW-Authenticate always, and its JSON body when the proxy passes it.
func assertRefusal(t *testing.T, r response, status int, code string, withBody bool, msg string) {
	t.Helper()
	require.Equal(t, status, r.status, "%s: %s", msg, r.body)
	if status == http.StatusUnauthorized {
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `Bearer realm="keygate"`, msg)
	}
	if withBody {
		var body map[string]string
		require.NoError(t, json.Unmarshal(r.body, &body), "%s: %s", msg, r.body)
		assert.Equal(t, code, body["error"], msg)
		assert.NotEmpty(t, body["error_description"], msg)
	}
}

// checkGateway sends an API key, an access token and a signed request to
// base (a front proxy, or keygate's own reverse proxy) and checks what
// reaches up: the identity headers and never a forged one; then the
// refusals (with keygate's body when withBody), none of which reaches
// up; then that a key revoked through the admin API is refused on the
// next request.
//
// placeholders admits what Caddy before 2.9 sends for a copy_headers
// header that the answer leaves out: its literal placeholder
// ("{http.reverse_proxy.header.X-Keygate-Subject}"), never the client's
// value.
func checkGateway(t *testing.T, b banner, base string, up *echoUpstream, withBody, placeholders bool) {
	c := gatewayClient{t: t, b: b, client: httpClient(t)}
	forged := []string{"X-Keygate-Account", "acct_forged", "X-Keygate-Subject", "forged", "x-keygate-store", "store_forged"}

	t.Run("allowed", func(t *testing.T) {
		r := postForm(t, b.url+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, keyID(b.secret), b.secret)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		token := decode(t, r)["access_token"].(string)
		for _, tc := range []struct {
			name, method, keyID, subject string
			send                         func() response
		}{
			{"API key", "api_key", keyID(b.secret), "", func() response { return c.get(base+"/orders/7", b.secret, forged...) }},
			{"access token", "jwt", keyID(b.secret), keyID(b.secret), func() response { return c.get(base+"/orders/7", token, forged...) }},
			{"signed request", "hmac", b.hmacID, "", func() response { return c.signedGet(base + "/orders/7") }},
		} {
			before, _ := up.seen()
			r := tc.send()
			require.Equal(t, http.StatusOK, r.status, "%s: %s", tc.name, r.body)
			hits, h := up.seen()
			require.Equal(t, before+1, hits, tc.name)
			assert.Equal(t, []string{demoAccount}, h["X-Keygate-Account"], tc.name)
			assert.Equal(t, []string{tc.keyID}, h["X-Keygate-Key-Id"], tc.name)
			assert.Equal(t, []string{tc.method}, h["X-Keygate-Auth-Method"], tc.name)
			assert.Equal(t, []string{"test"}, h["X-Keygate-Mode"], tc.name)
			if tc.subject == "" {
				assertOmitted(t, h, "X-Keygate-Subject", placeholders, "%s: a forged header the answer leaves out never reaches up", tc.name)
			} else {
				assert.Equal(t, []string{tc.subject}, h["X-Keygate-Subject"], tc.name)
			}
			assertOmitted(t, h, "X-Keygate-Store", placeholders, "%s: a forged store never reaches up", tc.name)
		}
	})

	t.Run("refused", func(t *testing.T) {
		before, _ := up.seen()
		assertRefusal(t, c.get(base+"/orders/7", ""), http.StatusUnauthorized, "unauthorized", withBody, "no credential")
		r := c.get(base+"/orders/7", alterBody(b.secret), forged...)
		assertRefusal(t, r, http.StatusUnauthorized, "invalid_token", withBody, "a wrong key")
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `error="invalid_token"`)
		assertRefusal(t, c.get(base+"/analytics", b.secret), http.StatusForbidden, "insufficient_scope", withBody, "a package below the route's tier")
		assertRefusal(t, c.get(base+"/nowhere", b.secret), http.StatusForbidden, "insufficient_scope", withBody, "no route: default deny")
		after, _ := up.seen()
		assert.Equal(t, before, after, "no refused request reaches up")
	})

	t.Run("revoked on the next request", func(t *testing.T) {
		require.Equal(t, http.StatusOK, c.get(base+"/orders/1", b.prime).status)
		req, err := http.NewRequest(http.MethodPost, b.url+"/admin/v1/keys/"+keyID(b.prime)+"/revoke", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+b.admin)
		require.Equal(t, http.StatusOK, c.do(req).status)
		before, _ := up.seen()
		assertRefusal(t, c.get(base+"/orders/1", b.prime), http.StatusUnauthorized, "invalid_token", withBody, "a revoked key")
		after, _ := up.seen()
		assert.Equal(t, before, after)
	})
}

// TestGatewayFrontProxies puts each real front proxy, in the README's
// configuration, in front of keygate and the upstream: nginx
// (auth_request), which passes keygate's 401 and 403 with their
// WWW-Authenticate but with a body of its own, and Caddy (forward_auth),
// which passes keygate's refusals on as they are.
func TestGatewayFrontProxies(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		start                  func(t *testing.T, port int, keygate, upstream string) string
		withBody, placeholders bool
	}{
		{"nginx", startNginx, false, false},
		{"caddy", startCaddy, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newEchoUpstream(t)
			port := freeLoopbackPort(t)
			b := startConfigServe(t, gatewayConfig(up.host(), "127.0.0.1:"+strconv.Itoa(port), ""))
			base := tc.start(t, port, b.url, up.host())
			checkGateway(t, b, base, up, tc.withBody, tc.placeholders)
		})
	}
}

// TestGatewayReverseProxy sends the same requests through keygate's own
// reverse proxy, without a front proxy; the upstream gets no credential
// either.
func TestGatewayReverseProxy(t *testing.T) {
	up := newEchoUpstream(t)
	b := startConfigServe(t, gatewayConfig(up.host(), "127.0.0.1:1", ""))
	checkGateway(t, b, b.url, up, true, false)
	_, h := up.seen()
	assert.NotContains(t, h, "Authorization", "the credential is not forwarded")
	assert.NotContains(t, h, "Signature")
}

// TestGatewayHTTPSOnly runs keygate with tls and https_only. A key sent
// to its port over plain HTTP is refused with 400 (TestServeHTTPSOnly-
// PlainHTTP checks the body and the audit event); over TLS its reverse
// proxy lets the key through.
// Through Caddy on plain HTTP, which says so in X-Forwarded-Proto, the
// key is refused with keygate's 400 "HTTPS is required", and a request
// without a credential is not.
func TestGatewayHTTPSOnly(t *testing.T) {
	up := newEchoUpstream(t)
	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir, "gateway")
	port := freeLoopbackPort(t)
	b := startConfigServe(t, gatewayConfig(up.host(), "127.0.0.1:"+strconv.Itoa(port),
		fmt.Sprintf("https_only: true\ntls: {cert: %q, key: %q}\n", certFile, keyFile)))
	require.True(t, strings.HasPrefix(b.url, "https://"), b.url)
	pool := trustFile(t, x509.NewCertPool(), certFile)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := gatewayClient{t: t, b: b, client: &http.Client{Transport: tr, Timeout: 15 * time.Second}}

	r := c.get(b.url+"/orders/7", b.secret)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	hits, h := up.seen()
	assert.Equal(t, 1, hits)
	assert.Equal(t, []string{demoAccount}, h["X-Keygate-Account"])

	plain := gatewayClient{t: t, b: b, client: httpClient(t)}
	r = plain.get("http://"+strings.TrimPrefix(b.url, "https://")+"/orders/7", b.secret)
	assert.Equal(t, http.StatusBadRequest, r.status, "plain HTTP to the TLS port: %s", r.body)
	assert.Contains(t, string(r.body), "HTTPS is required")

	base := startCaddy(t, port, b.url, up.host())
	r = plain.get(base+"/orders/7", b.secret)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.JSONEq(t, `{"error":"invalid_request","error_description":"HTTPS is required"}`, string(r.body))
	assertRefusal(t, plain.get(base+"/orders/7", ""), http.StatusUnauthorized, "unauthorized", true, "no credential")
	after, _ := up.seen()
	assert.Equal(t, hits, after, "nothing over plain HTTP reaches up")
}
