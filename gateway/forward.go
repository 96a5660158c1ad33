package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/keygate/keygate/middleware"
)

// Errors of the reconstruction of a forwarded request. The client sees
// 400 invalid_request with the error's fixed description.
var (
	errNoForwarded     = errors.New("the forwarded request is missing: send X-Forwarded-Method and X-Forwarded-Uri, or X-Original-Method and X-Original-URI")
	errRepeatedHeader  = errors.New("a forwarded request header appears more than once")
	errConflict        = errors.New("the X-Forwarded-* and X-Original-* headers describe different requests")
	errMethod          = errors.New("the forwarded method is not a valid HTTP method")
	errURI             = errors.New("the forwarded URI must be an origin-form request target (a path starting with /, optionally with a query)")
	errHost            = errors.New("the forwarded host is not a valid host[:port]")
	errProto           = errors.New("X-Forwarded-Proto must be http or https")
	errForwardedHeader = errors.New("the forwarded request headers are malformed")
)

// ForwardAuth returns the forward-auth endpoint, to be served at
// /auth/verify for any method (and, for Envoy, at the paths under
// Config.EnvoyPrefix: with a ServeMux, the pattern "/auth/verify/" too):
// it reconstructs the original request from the
// question of a trusted proxy and answers whether it may pass (see the
// package documentation for the headers read and the answers).
func (g *Gateway) ForwardAuth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.fromTrustedProxy(r) {
			g.refuse.ServeHTTP(w, r.WithContext(withRefusal(r.Context(), refusal{failUntrusted, CodeUntrustedProxy})))
			return
		}
		orig, err := g.original(r)
		if err != nil {
			f := middleware.Failure{Status: http.StatusBadRequest, Code: middleware.CodeInvalidRequest, Description: err.Error()}
			g.refuse.ServeHTTP(w, r.WithContext(withRefusal(r.Context(), refusal{f, CodeBadForwardedRequest})))
			return
		}
		g.forward.ServeHTTP(w, orig)
	})
}

// original returns the request that the forward-auth question r is
// about: r's headers and body with the forwarded method, target, host and
// scheme, or an error whose text is a fixed description for the client.
func (g *Gateway) original(r *http.Request) (*http.Request, error) {
	fMethod, fm, err1 := single(r.Header, "X-Forwarded-Method")
	fURI, fu, err2 := single(r.Header, "X-Forwarded-Uri")
	oMethod, om, err3 := single(r.Header, "X-Original-Method")
	oURI, ou, err4 := single(r.Header, "X-Original-Uri")
	host, fh, err5 := single(r.Header, "X-Forwarded-Host")
	proto, fp, err6 := single(r.Header, "X-Forwarded-Proto")
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, errRepeatedHeader
	}
	var method, uri string
	envoy := g.envoy != "" && strings.HasPrefix(r.URL.EscapedPath(), g.envoy+"/")
	switch {
	case envoy:
		// Envoy asks with the original method, host and path: the
		// X-Forwarded-* and X-Original-* headers it passes on are the
		// client's, and must not replace them.
		uri = strings.TrimPrefix(r.URL.EscapedPath(), g.envoy)
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			uri += "?" + r.URL.RawQuery
		}
		fh = false
	case fu && ou:
		// Both descriptions, each complete (a missing method is the
		// question's), must agree: one of them is the client's, passed
		// on by the proxy, and must not supply what the proxy's leaves
		// out.
		if fURI != oURI || firstOf(fMethod, fm, r.Method, true) != firstOf(oMethod, om, r.Method, true) {
			return nil, errConflict
		}
		method, uri = firstOf(fMethod, fm, oMethod, om), fURI
	case fu:
		method, uri = firstOf(fMethod, fm, "", false), fURI
	case ou:
		method, uri = firstOf(oMethod, om, "", false), oURI
	case fm || om:
		return nil, errNoForwarded // a method without a target
	default:
		return nil, errNoForwarded
	}
	if method == "" {
		method = r.Method
	}
	if !validMethod(method) {
		return nil, errMethod
	}
	u, err := parseTarget(uri)
	if err != nil {
		return nil, err
	}
	if !fh {
		host = r.Host
	}
	if !validHost(host) {
		return nil, errHost
	}
	switch {
	case !fp && r.TLS != nil:
		proto = "https"
	case !fp:
		proto = "http"
	case strings.EqualFold(proto, "http"), strings.EqualFold(proto, "https"):
		proto = strings.ToLower(proto)
	default:
		return nil, errProto
	}
	u.Scheme, u.Host = proto, host

	// A shallow copy: nothing below the forward-auth handler changes the
	// request's headers, so they are shared with the question unless
	// X-Forwarded-Proto must change (a copy then). Cloning them on every
	// question cost a quarter of its allocations.
	orig := r.WithContext(r.Context())
	orig.Method, orig.URL, orig.Host, orig.RequestURI = method, u, host, uri
	orig.Pattern = ""
	if proto == "http" {
		// The original request came over plain HTTP, whatever the
		// question's own connection to keygate: for
		// middleware.Config.HTTPSOnly and a signature's @scheme. Say so
		// in X-Forwarded-Proto too: HTTPSOnly believes a trusted peer's
		// forwarding headers, and without it a Forwarded: proto=https
		// that the proxy passed on from the client would be the only
		// one.
		orig.TLS = nil
		if v := r.Header["X-Forwarded-Proto"]; len(v) != 1 || v[0] != "http" {
			orig.Header = r.Header.Clone()
			orig.Header.Set("X-Forwarded-Proto", "http")
		}
	}
	// The question's body, if the proxy sent one (Envoy's
	// with_request_body), is the original's: the copy kept it.
	return orig, nil
}

// single returns the only value of the header name, whether it is
// present, and an error when it appears more than once.
func single(h http.Header, name string) (string, bool, error) {
	switch v := h[name]; len(v) {
	case 0:
		return "", false, nil
	case 1:
		return v[0], true, nil
	default:
		return "", true, errForwardedHeader
	}
}

// firstOf returns a when present, else b when present, else "".
func firstOf(a string, aok bool, b string, bok bool) string {
	switch {
	case aok:
		return a
	case bok:
		return b
	}
	return ""
}

// validMethod reports whether m is an RFC 9110 token.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// parseTarget parses an origin-form request target: a path that starts
// with "/" (not "//"), optionally followed by a query, in printable ASCII
// without spaces or a fragment.
func parseTarget(uri string) (*url.URL, error) {
	if uri == "" || uri[0] != '/' || strings.HasPrefix(uri, "//") || len(uri) > 8<<10 {
		return nil, errURI
	}
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= 0x20 || c >= 0x7f || c == '#' {
			return nil, errURI
		}
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return nil, errURI
	}
	return u, nil
}

// validHost reports whether h is a host[:port] as a Host header holds it:
// a registered name or IPv4 address, or an IPv6 address in brackets, and
// a numeric port.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:[]", c) >= 0) {
			return false
		}
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.Path == "" && u.Hostname() != ""
}

// cleanPath reports whether p is in the form path.Clean gives it.
func cleanPath(p string) bool { return path.Clean(p) == p }

// bodyNotForwarded reports whether r is a signed request whose signature
// covers a body (it carries Content-Digest) that r does not have: the
// front proxy did not send it.
func bodyNotForwarded(r *http.Request) bool {
	signed := len(r.Header["Signature-Input"]) > 0 || len(r.Header["Signature"]) > 0
	return signed && len(r.Header["Content-Digest"]) > 0 && (r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0)
}

// refusal is a failure of a forward-auth question that cannot be asked,
// and the reason its audit event records.
type refusal struct {
	f      middleware.Failure
	reason string
}

type refusalKey struct{}

func withRefusal(ctx context.Context, f refusal) context.Context {
	return context.WithValue(ctx, refusalKey{}, f)
}

// refuseQuestion writes the refusal in r's context, inside Audit.
func (g *Gateway) refuseQuestion(w http.ResponseWriter, r *http.Request) {
	f, _ := r.Context().Value(refusalKey{}).(refusal)
	g.fail(w, r, f.f, f.reason)
}
