package gateway_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/middleware"
)

// send sends a request through the fixture's proxy.
func (f *fixture) send(t *testing.T, method, path, body string, h http.Header) *http.Response {
	t.Helper()
	r, err := http.NewRequest(method, f.proxy.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body == "" {
		r.Body = http.NoBody
	}
	maps(r.Header, h)
	resp, err := f.proxy.Client().Do(r)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func upstreamSaw(t *testing.T, resp *http.Response) echoed {
	t.Helper()
	var e echoed
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	return e
}

func TestProxyAllows(t *testing.T) {
	f := newFixture(t, nil, nil)
	signedPost := func(body string) http.Header {
		r, err := http.NewRequest("POST", f.proxy.URL+"/orders", strings.NewReader(body))
		require.NoError(t, err)
		sign(t, r, []byte(body))
		return r.Header
	}
	for _, tc := range []struct {
		name, method, path, body string
		cred                     func() http.Header
		want                     map[string]string
	}{
		{"api key", "GET", "/orders/42", "", func() http.Header { return bearer(f.sk) }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: f.skID, gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "api_key", gateway.HeaderStore: "store_1"}},
		{"access token", "GET", "/orders/42", "", func() http.Header { return bearer(f.token(t)) }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: "client_1", gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "jwt", gateway.HeaderStore: "store_1", gateway.HeaderSubject: "user_7",
			gateway.HeaderScope: "orders:read"}},
		{"signed with a body", "POST", "/orders", `{"sku":"A1"}`, func() http.Header { return signedPost(`{"sku":"A1"}`) }, map[string]string{
			gateway.HeaderAccount: "acct_1", gateway.HeaderKeyID: "hk_1", gateway.HeaderMode: "test",
			gateway.HeaderAuthMethod: "hmac", gateway.HeaderStore: "store_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.cred()
			// Forged identity headers, in any case, never reach the upstream.
			h["X-Keygate-Account"] = []string{"acct_forged"}
			h["X-KEYGATE-SUBJECT"] = []string{"root"}
			h["X-Keygate-Anything"] = []string{"forged"}
			resp := f.send(t, tc.method, tc.path, tc.body, h)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			e := upstreamSaw(t, resp)
			assert.Equal(t, tc.want, identity(e.Header))
			assert.Equal(t, tc.method, e.Method)
			assert.Equal(t, tc.path, e.Path)
			assert.Equal(t, tc.body, e.Body)
			for _, name := range []string{"Authorization", "Signature", "Signature-Input"} {
				assert.Empty(t, e.Header.Values(name), name)
			}
			if tc.body != "" {
				assert.NotEmpty(t, e.Header.Get("Content-Digest"), "the body's digest is not a credential")
			}
		})
	}
}

func TestProxyForwardsCredentialsWhenTheRouteSays(t *testing.T) {
	f := newFixture(t, nil, nil)
	e := upstreamSaw(t, f.send(t, "GET", "/credential", "", bearer(f.sk)))
	assert.Equal(t, "Bearer "+f.sk, e.Header.Get("Authorization"))
	assert.Equal(t, "acct_1", e.Header.Get(gateway.HeaderAccount))
}

func TestProxyRefusals(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, tc := range f.refusalCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.send(t, tc.method, tc.uri, "", tc.cred)
			body, _ := io.ReadAll(resp.Body)
			f.assertMiddlewareAnswer(t, tc, resp.StatusCode, resp.Header, string(body))
		})
	}
	for _, path := range []string{"/nowhere", "/auth-only", "/payouts"} { // forward-auth-only routes are no route here
		resp := f.send(t, "GET", path, "", bearer(f.sk))
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		assert.Equal(t, middleware.CodeInsufficientScope, errorCode(t, body))
	}
}

func TestProxyRevokedOnNextRequest(t *testing.T) {
	f := newFixture(t, nil, nil)
	require.Equal(t, http.StatusOK, f.send(t, "GET", "/orders/1", "", bearer(f.sk)).StatusCode)
	_, err := f.keys.Revoke(t.Context(), f.skID)
	require.NoError(t, err)
	resp := f.send(t, "GET", "/orders/1", "", bearer(f.sk))
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, middleware.CodeInvalidToken, errorCode(t, body))
}

// X-Forwarded-For and Forwarded: a trusted proxy's are appended to, a
// client's own are replaced.
func TestProxyForwardedHeaders(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := bearer(f.sk)
	h.Set("X-Forwarded-For", "198.51.100.7")
	h.Set("Forwarded", "for=198.51.100.7")
	h.Set("X-Forwarded-Proto", "https")
	h.Set("X-Forwarded-Host", "api.example.com")
	e := upstreamSaw(t, f.send(t, "GET", "/orders/1", "", h)) // from loopback: trusted
	assert.Equal(t, "198.51.100.7, 127.0.0.1", e.Header.Get("X-Forwarded-For"))
	assert.Equal(t, `for=198.51.100.7, for=127.0.0.1;host="api.example.com";proto=https`, e.Header.Get("Forwarded"))
	assert.Equal(t, "https", e.Header.Get("X-Forwarded-Proto"))
	assert.Equal(t, "api.example.com", e.Header.Get("X-Forwarded-Host"))

	g := newFixture(t, nil, func(c *gateway.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	h.Set("Authorization", "Bearer "+g.sk)
	e = upstreamSaw(t, g.send(t, "GET", "/orders/1", "", h)) // from loopback: not trusted now
	assert.Equal(t, "127.0.0.1", e.Header.Get("X-Forwarded-For"))
	host := strings.TrimPrefix(g.proxy.URL, "http://")
	assert.Equal(t, `for=127.0.0.1;host="`+host+`";proto=http`, e.Header.Get("Forwarded"))
	assert.Equal(t, "http", e.Header.Get("X-Forwarded-Proto"))
	assert.Equal(t, host, e.Header.Get("X-Forwarded-Host"))
}

func TestProxyUpstreamFailures(t *testing.T) {
	t.Run("unreachable: 502", func(t *testing.T) {
		f := newFixture(t, nil, nil)
		f.upstream.Close()
		resp := f.send(t, "GET", "/orders/1", "", bearer(f.sk))
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, gateway.CodeBadGateway, errorCode(t, body))
	})
	t.Run("no answer in time: 504", func(t *testing.T) {
		release := make(chan struct{})
		f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select { // never answers while the test waits
			case <-release:
			case <-r.Context().Done():
			}
		}), func(c *gateway.Config) { c.ResponseHeaderTimeout = time.Millisecond })
		defer close(release)
		resp := f.send(t, "GET", "/orders/1", "", bearer(f.sk))
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, gateway.CodeGatewayTimeout, errorCode(t, body))
	})
}

// An event stream reaches the client event by event: the upstream sends
// the second event only once the client has read the first.
func TestProxyStreams(t *testing.T) {
	read := make(chan struct{})
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-read:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: 2\n\n")
	}), nil)
	resp := f.send(t, "GET", "/events", "", bearer(f.sk))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "data: 1\n", line)
	close(read)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	assert.Equal(t, "\ndata: 2\n\n", string(rest))
}

// A WebSocket upgrade passes through, with the identity headers, and the
// connection then carries bytes both ways.
func TestProxyWebSocket(t *testing.T) {
	saw := make(chan http.Header, 1)
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw <- r.Header.Clone()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	}), nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.proxy.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer "+f.sk+
		"\r\nX-Keygate-Account: acct_forged\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	h := <-saw
	assert.Equal(t, "acct_1", h.Get(gateway.HeaderAccount))
	assert.Empty(t, h.Get("Authorization"))
	_, err = io.WriteString(conn, "hello\n")
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "echo hello\n", line)
}

func TestNewRefusesBadConfig(t *testing.T) {
	f := newFixture(t, nil, nil)
	up, _ := url.Parse("http://127.0.0.1:9000")
	for _, tc := range []struct {
		name string
		cfg  gateway.Config
	}{
		{"no authenticator", gateway.Config{}},
		{"bad pattern", gateway.Config{Auth: f.auth, Routes: []gateway.Route{{Pattern: "GET"}}}},
		{"empty pattern", gateway.Config{Auth: f.auth, Routes: []gateway.Route{{}}}},
		{"duplicate pattern", gateway.Config{Auth: f.auth, Routes: []gateway.Route{{Pattern: "GET /a"}, {Pattern: "GET /a"}}}},
		{"bad rule", gateway.Config{Auth: f.auth, Routes: []gateway.Route{{Pattern: "GET /a", Rule: middleware.Rule{Permission: "not a permission!"}}}}},
		{"relative upstream", gateway.Config{Auth: f.auth, Routes: []gateway.Route{{Pattern: "GET /a", Upstream: &url.URL{Path: "/x"}}}}},
		{"ftp upstream", gateway.Config{Auth: f.auth, Routes: []gateway.Route{{Pattern: "GET /a", Upstream: &url.URL{Scheme: "ftp", Host: "x"}}}}},
		{"envoy prefix with slash", gateway.Config{Auth: f.auth, EnvoyPrefix: "/auth/"}},
		{"envoy prefix relative", gateway.Config{Auth: f.auth, EnvoyPrefix: "auth"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.New(tc.cfg)
			assert.ErrorIs(t, err, gateway.ErrInvalidConfig)
		})
	}
	_, err := gateway.New(gateway.Config{Auth: f.auth, Routes: []gateway.Route{{Pattern: "GET /a", Upstream: up}}})
	assert.NoError(t, err)
}

// Behind a trusted proxy, a key bound to addresses is checked against the
// client address it forwarded.
func TestProxyClientAddress(t *testing.T) {
	f := newFixture(t, nil, nil)
	h := bearer(f.bound)
	assert.Equal(t, http.StatusForbidden, f.send(t, "GET", "/orders/1", "", h).StatusCode)
	h.Set("X-Forwarded-For", "198.51.100.7")
	assert.Equal(t, http.StatusOK, f.send(t, "GET", "/orders/1", "", h).StatusCode)
}
