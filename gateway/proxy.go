package gateway

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/ipbind"
)

// credentialHeaders carry the caller's credential; the proxy removes them
// unless the route forwards credentials. Content-Digest is not one: it
// describes the body, which the upstream gets.
var credentialHeaders = []string{"Authorization", "Signature", "Signature-Input"}

// Proxy returns the reverse proxy: a request that a route with an
// Upstream matches is checked as the route says and, when allowed,
// forwarded to the upstream with httputil.ReverseProxy; any other
// request is refused with 403 insufficient_scope (default deny), and a
// refused one gets the middleware's answer.
//
// The forwarded request carries the identity headers of its caller, and
// no X-Keygate-* header of the client's; its credential headers
// (Authorization, Signature, Signature-Input) are removed unless the
// route has ForwardCredentials. X-Forwarded-For and Forwarded get the
// address of this request's peer (the client, or the proxy in front)
// appended to the ones a trusted proxy sent (from any other peer, they
// start afresh), and X-Forwarded-Host and
// X-Forwarded-Proto are a trusted proxy's, else this request's. Event
// streams and other responses without a length are flushed as they come,
// and WebSocket connections pass through (any other Upgrade, such as h2c,
// is removed: the request is proxied as a plain one). An upstream
// that cannot be reached gives 502 bad_gateway, one that does not answer
// within Config.ResponseHeaderTimeout 504 gateway_timeout, both as JSON
// {"error", "error_description"}.
func (g *Gateway) Proxy() http.Handler { return g.proxy }

// reverseProxy returns the proxy to rt's upstream.
func (g *Gateway) reverseProxy(rt Route, transport http.RoundTripper, errorLog *log.Logger) http.Handler {
	upstream := rt.Upstream
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			g.setForwarded(pr)
			stripIdentity(pr.Out.Header)
			stripIdentity(pr.Out.Trailer) // a client's request trailers too
			p, _ := keygate.FromContext(pr.In.Context())
			setIdentity(pr.Out.Header, p, 0)
			if !rt.ForwardCredentials {
				for _, h := range credentialHeaders {
					pr.Out.Header.Del(h)
				}
			}
		},
		Transport:    transport,
		ErrorLog:     errorLog,
		ErrorHandler: g.upstreamError,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.ServeHTTP(w, webSocketOnly(r))
	})
}

// webSocketOnly returns r without its Upgrade header unless it asks for
// WebSocket alone. ReverseProxy tunnels any protocol the upstream
// switches to, and a tunnel is no longer checked: after "Upgrade: h2c"
// the client could send HTTP/2 requests for any path (h2c smuggling).
func webSocketOnly(r *http.Request) *http.Request {
	up := r.Header["Upgrade"]
	if len(up) == 0 || len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
		return r
	}
	r2 := *r
	r2.Header = r.Header.Clone()
	r2.Header.Del("Upgrade")
	return &r2
}

// setForwarded sets X-Forwarded-For, -Host and -Proto and Forwarded on the
// outgoing request: appended to a trusted proxy's, else afresh.
func (g *Gateway) setForwarded(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	trusted := g.fromTrustedProxy(in)
	if trusted {
		out.Header["X-Forwarded-For"] = in.Header["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	host, proto := in.Host, out.Header.Get("X-Forwarded-Proto")
	if trusted {
		if h, ok, err := single(in.Header, "X-Forwarded-Host"); ok && err == nil && validHost(h) {
			host = h
			out.Header.Set("X-Forwarded-Host", h)
		}
		if p, ok, err := single(in.Header, "X-Forwarded-Proto"); ok && err == nil && (p == "http" || p == "https") {
			proto = p
			out.Header.Set("X-Forwarded-Proto", p)
		}
	}
	elem := "proto=" + proto
	if validHost(host) {
		elem = "host=" + quote(host) + ";" + elem
	}
	if peer, ok := ipbind.RemoteIP(in); ok {
		node := peer.String()
		if peer.Is6() {
			node = `"[` + node + `]"`
		}
		elem = "for=" + node + ";" + elem
	}
	var prior []string
	if trusted {
		prior = in.Header["Forwarded"]
	}
	out.Header["Forwarded"] = []string{strings.Join(append(prior[:len(prior):len(prior)], elem), ", ")}
}

// quote makes an RFC 7239 quoted-string of a host (which holds no quote
// or backslash: validHost checked it).
func quote(s string) string { return `"` + s + `"` }

// upstreamError answers a request whose upstream failed: 504 when it
// timed out, else 502.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		failGatewayTimeout.Write(w, g.realm)
		return
	}
	failBadGateway.Write(w, g.realm)
}
