package gateway

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/middleware"
)

// The identity headers: who the caller of an allowed request is. They are
// set on the forward-auth response and on the proxied request, and never
// taken from a client.
const (
	HeaderAccount    = "X-Keygate-Account"     // the account that owns the credential
	HeaderKeyID      = "X-Keygate-Key-Id"      // the API key, HMAC key ID or token client
	HeaderMode       = "X-Keygate-Mode"        // test or live
	HeaderAuthMethod = "X-Keygate-Auth-Method" // api_key, jwt, hmac or one_time
	HeaderSubject    = "X-Keygate-Subject"     // an access token's subject
	HeaderStore      = "X-Keygate-Store"       // the store selected for the request
	HeaderScope      = "X-Keygate-Scope"       // an access token's scope
)

// identityPrefix starts every identity header; a client's headers with it
// are removed.
const identityPrefix = "X-Keygate-"

// The codes of the gateway's own failures: the "error" member of the JSON
// body and the reason of the audit event. The gateway adds them to the
// middleware's table of codes (its Code constants, see
// [middleware.Classify]), which answers every other failure.
const (
	// CodeUntrustedProxy (403) refuses a forward-auth question from an
	// address that is not a trusted proxy.
	CodeUntrustedProxy = "untrusted_proxy"
	// CodeNoRoute is the audit reason of a request that no route
	// matches; the client sees 403 insufficient_scope.
	CodeNoRoute = "no_route"
	// CodeBodyNotForwarded is the audit reason of a signed request whose
	// Content-Digest cannot be checked because the front proxy did not
	// send its body; the client sees 401 invalid_digest.
	CodeBodyNotForwarded = "body_not_forwarded"
	// CodeAmbiguousPath is the audit reason of a request whose path
	// matches another route (or none) once its percent-encoding is
	// decoded, as front proxies and upstreams may do: /a/%2e%2e/b is /b.
	// The client sees 400 invalid_request.
	CodeAmbiguousPath = "ambiguous_path"
	// CodeMethodOverride is the audit reason of a request with a method
	// or URL override header naming another method or target than the
	// one checked, which many upstream frameworks would serve instead.
	// The client sees 400 invalid_request.
	CodeMethodOverride = "method_override"
	// CodeBadForwardedRequest is the audit reason of a forward-auth
	// question whose original request cannot be read; the client sees 400
	// invalid_request.
	CodeBadForwardedRequest = "bad_forwarded_request"
	// CodeBadGateway (502) is the code when the upstream service cannot
	// be reached or answers with something that is not HTTP.
	CodeBadGateway = "bad_gateway"
	// CodeGatewayTimeout (504) is the code when the upstream service did
	// not answer in time.
	CodeGatewayTimeout = "gateway_timeout"
)

// The gateway's failures. Descriptions are fixed: no request data.
var (
	failUntrusted = middleware.Failure{Status: http.StatusForbidden, Code: CodeUntrustedProxy,
		Description: "forward-auth questions are answered only for trusted proxies"}
	failNoRoute = middleware.Failure{Status: http.StatusForbidden, Code: middleware.CodeInsufficientScope,
		Description: "no route matches this request"}
	failMethodOverride = middleware.Failure{Status: http.StatusBadRequest, Code: middleware.CodeInvalidRequest,
		Description: "a method or URL override header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, X-Original-URL, X-Rewrite-URL) names another method or target than the request's"}
	failAmbiguousPath = middleware.Failure{Status: http.StatusBadRequest, Code: middleware.CodeInvalidRequest,
		Description: "the request path has percent-encoded dot segments or slashes that would change the route it matches once decoded"}
	failBodyNotForwarded = middleware.Failure{Status: http.StatusUnauthorized, Code: middleware.CodeInvalidDigest,
		Description: "the signature covers the request body (content-digest), which the proxy did not send to the forward-auth endpoint; send the request through the reverse proxy or forward the body"}
	failBadGateway = middleware.Failure{Status: http.StatusBadGateway, Code: CodeBadGateway,
		Description: "the upstream service could not be reached"}
	failGatewayTimeout = middleware.Failure{Status: http.StatusGatewayTimeout, Code: CodeGatewayTimeout,
		Description: "the upstream service did not answer in time"}
)

// ErrInvalidConfig is wrapped by the errors of [New].
var ErrInvalidConfig = errors.New("gateway: invalid configuration")

// Route is one line of the route table.
type Route struct {
	// Pattern is a net/http ServeMux pattern, such as "GET /orders/{id}".
	// Its wildcards are path values for Rule.EntityPathValue.
	Pattern string
	// Rule is what the route requires of its caller.
	Rule middleware.Rule
	// Upstream is the service that [Gateway.Proxy] forwards the route's
	// allowed requests to: its scheme and host, and a path that prefixes
	// the request's. Nil makes a forward-auth-only route, which the
	// proxy treats as no route.
	Upstream *url.URL
	// ForwardCredentials passes the request's credential (Authorization,
	// Signature and Signature-Input) on to the upstream. By default they
	// are removed: the upstream gets the identity headers instead.
	ForwardCredentials bool
}

// Config configures a [Gateway].
type Config struct {
	// Auth checks the requests. Required. Its AccessConfig.ClientIP
	// should trust the same proxies as TrustedProxies
	// ([NewClientIPResolver]), so that the client address of a
	// forwarded request is the client's, not the proxy's. Its
	// AuditConfig decides where the audit events go: every decision
	// (allowed, refused, no route, untrusted proxy) is one event. Do not
	// wrap the Gateway's handlers in Auth.Audit again: the outer Audit
	// would record a forward-auth question's own path and route.
	Auth *middleware.Authenticator
	// Routes is the route table. A request that no route matches is
	// refused.
	Routes []Route
	// TrustedProxies are the addresses whose forward-auth questions are
	// answered and whose X-Forwarded-For, Forwarded, X-Forwarded-Host and
	// X-Forwarded-Proto the reverse proxy appends to rather than
	// replaces. Empty means the loopback addresses. Give Auth's
	// AccessConfig.ClientIP the same list: see [NewClientIPResolver].
	TrustedProxies []netip.Prefix
	// EnvoyPrefix is Envoy ext_authz's path_prefix, such as
	// "/auth/verify": a question to EnvoyPrefix + path is about a request
	// to path, with the question's own method, headers and body. Empty
	// disables this form. It must start with "/" and not end with one.
	EnvoyPrefix string
	// Realm is the realm of the gateway's own WWW-Authenticate
	// challenges; set it to the Authenticator's (middleware.Config.Realm).
	// Empty means "keygate".
	Realm string
	// DialTimeout bounds connecting to an upstream. Zero means 10 seconds.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for an upstream's response
	// header once the request is sent (504 when over). Zero means 60
	// seconds. Streamed response bodies and WebSocket connections are not
	// bounded.
	ResponseHeaderTimeout time.Duration
	// Transport sends the proxied requests. Nil means a clone of
	// http.DefaultTransport with DialTimeout and ResponseHeaderTimeout;
	// when set, those two are its business.
	Transport http.RoundTripper
	// ErrorLog receives the reverse proxy's errors while copying a
	// response. Nil means the log package's standard logger.
	ErrorLog *log.Logger
}

// Gateway answers forward-auth questions and proxies requests, each
// checked against its route. Create it with [New]; it is safe for
// concurrent use.
type Gateway struct {
	auth    *middleware.Authenticator
	trusted []netip.Prefix
	envoy   string
	realm   string

	forward http.Handler // the audited forward-auth chain, for a reconstructed request
	proxy   http.Handler // the audited proxy chain
	refuse  http.Handler // audited refusals of questions that cannot be asked
}

// route marks the handlers of the route table in a ServeMux, so that a
// match can be told from the mux's own answers (404, 405, redirects).
type route struct{ http.Handler }

// New returns a Gateway for cfg. A route's invalid or conflicting pattern,
// a rule that cannot be compiled (a malformed permission, say) and an upstream that is not an absolute http or https URL
// are errors wrapping [ErrInvalidConfig].
func New(cfg Config) (*Gateway, error) {
	if cfg.Auth == nil {
		return nil, fmt.Errorf("%w: Config.Auth is required", ErrInvalidConfig)
	}
	g := &Gateway{auth: cfg.Auth, envoy: cfg.EnvoyPrefix, realm: cfg.Realm}
	if g.realm == "" {
		g.realm = "keygate"
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: invalid trusted proxy prefix", ErrInvalidConfig)
		}
		g.trusted = append(g.trusted, p.Masked())
	}
	if e := g.envoy; e != "" && (e[0] != '/' || strings.HasSuffix(e, "/") || strings.ContainsAny(e, "?#%") || !cleanPath(e)) {
		return nil, fmt.Errorf("%w: EnvoyPrefix %q must be a clean path starting with / and not ending with one", ErrInvalidConfig, e)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = newTransport(cfg.DialTimeout, cfg.ResponseHeaderTimeout)
	}
	forwardMux, proxyMux := http.NewServeMux(), http.NewServeMux()
	for i, rt := range cfg.Routes {
		if err := g.add(forwardMux, proxyMux, rt, transport, cfg.ErrorLog); err != nil {
			return nil, fmt.Errorf("%w: route %d (%q): %v", ErrInvalidConfig, i, rt.Pattern, err)
		}
	}
	g.forward = g.auth.Audit(g.dispatch(forwardMux))
	g.proxy = g.auth.Audit(g.dispatch(proxyMux))
	g.refuse = g.auth.Audit(http.HandlerFunc(g.refuseQuestion))
	return g, nil
}

// add registers rt on the forward-auth mux and, with an upstream, on the
// proxy mux. ServeMux and Require report a bad pattern or rule by
// panicking: that is turned into an error.
func (g *Gateway) add(forwardMux, proxyMux *http.ServeMux, rt Route, transport http.RoundTripper, errorLog *log.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if rt.Pattern == "" {
		return errors.New("empty pattern")
	}
	if u := rt.Upstream; u != nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "") {
		return errors.New("the upstream must be an http or https URL with a host, and without user, query or fragment")
	}
	require := g.auth.Require(rt.Rule)
	forwardMux.Handle(rt.Pattern, &route{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bodyNotForwarded(r) {
			g.fail(w, r, failBodyNotForwarded, CodeBodyNotForwarded)
			return
		}
		require(http.HandlerFunc(allow)).ServeHTTP(w, r)
	})})
	if rt.Upstream != nil {
		proxyMux.Handle(rt.Pattern, &route{require(g.reverseProxy(rt, transport, errorLog))})
	}
	return nil
}

// dispatch serves r with mux when one of the routes matches it, and
// refuses it otherwise (403, default deny): the mux's own 404, 405 and
// redirects never answer.
func (g *Gateway) dispatch(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if !isRoute(h) {
			g.fail(w, r, failNoRoute, CodeNoRoute)
			return
		}
		if !unambiguous(mux, r, pattern) {
			g.fail(w, r, failAmbiguousPath, CodeAmbiguousPath)
			return
		}
		if overridden(r) {
			g.fail(w, r, failMethodOverride, CodeMethodOverride)
			return
		}
		mux.ServeHTTP(w, r) // sets the pattern and path values
	})
}

// unambiguous reports whether r's path means the same route however the
// front proxy or the upstream reads it. The mux matches the escaped path,
// in which %2e%2e is a segment and %2F part of one; nginx (for its
// locations, and for proxy_pass with a URI) and most upstream routers
// decode first, so that /public/%2e%2e/admin is /admin and /files/a%2Fb
// has three segments; Tomcat and Spring drop ";" parameters from each
// segment (/public/..;/admin is /admin, /admin;x/users is /admin/users),
// and IIS and some others take "\" for "/". Each reading must be clean
// (no dot segment; CONNECT's path is not cleaned by the mux) and match the
// same pattern.
func unambiguous(mux *http.ServeMux, r *http.Request, pattern string) bool {
	decoded := r.URL.Path
	lenient := lenientPath(decoded)
	for i, p := range [...]string{decoded, lenient} {
		if !cleanURLPath(p) {
			return false
		}
		if i == 0 && r.URL.RawPath == "" || i == 1 && p == decoded {
			continue // the reading the mux made, or the previous one
		}
		u := *r.URL
		u.Path, u.RawPath = p, ""
		d := *r
		d.URL = &u
		if h, pat := mux.Handler(&d); !isRoute(h) || pat != pattern {
			return false
		}
	}
	return true
}

// overrideHeaders are the method override headers that upstream
// frameworks honour.
var overrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// rewriteHeaders are the target override headers of IIS URL Rewrite,
// Zend and older Symfony.
var rewriteHeaders = []string{"X-Original-Url", "X-Rewrite-Url"}

// overridden reports whether r has a method override header that names
// another method than r's, or a target override header another target
// than r's: the route was checked for r's, and the upstream would serve
// the override.
func overridden(r *http.Request) bool {
	for _, name := range overrideHeaders {
		for _, v := range r.Header[name] {
			if !strings.EqualFold(strings.TrimSpace(v), r.Method) {
				return true
			}
		}
	}
	for _, name := range rewriteHeaders {
		for _, v := range r.Header[name] {
			if v != r.URL.RequestURI() && v != r.URL.EscapedPath() {
				return true
			}
		}
	}
	return false
}

// lenientPath is the decoded path p as the most lenient servers read it:
// "\" for "/", and each segment without its ";" parameters.
func lenientPath(p string) string {
	if !strings.ContainsAny(p, ";\\") {
		return p
	}
	segs := strings.Split(strings.ReplaceAll(p, "\\", "/"), "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	return strings.Join(segs, "/")
}

// cleanURLPath reports whether p is as net/http's ServeMux cleans it:
// path.Clean's form, keeping a trailing slash.
func cleanURLPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

func isRoute(h http.Handler) bool {
	_, ok := h.(*route)
	return ok
}

// fail writes f for a request inside Audit, whose event records reason.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, f middleware.Failure, reason string) {
	middleware.RefuseRequest(r.Context(), reason)
	f.Write(w, g.realm)
}

// allow answers an allowed forward-auth question: 200 with the identity
// headers.
func allow(w http.ResponseWriter, r *http.Request) {
	p, _ := keygate.FromContext(r.Context())
	h := w.Header()
	vals := setIdentity(h, p, 1)
	vals[0] = "no-store"
	h["Cache-Control"] = vals[0:1:1]
	w.WriteHeader(http.StatusOK)
}

// setIdentity sets the identity headers of p on h, leaving out the empty
// ones and any value that is not a valid header value. The values share
// one array (one allocation, not one per header), whose first spare
// elements it returns for the caller's own headers.
func setIdentity(h http.Header, p keygate.Principal, spare int) []string {
	ids := [...][2]string{
		{HeaderAccount, p.Account},
		{HeaderKeyID, p.KeyID},
		{HeaderMode, string(p.Mode)},
		{HeaderAuthMethod, string(p.Method)},
		{HeaderSubject, p.Subject},
		{HeaderStore, p.Store},
		{HeaderScope, p.Scope},
	}
	vals := make([]string, spare+len(ids))
	for i, kv := range ids {
		if kv[1] != "" && validValue(kv[1]) {
			j := spare + i
			vals[j] = kv[1]
			h[kv[0]] = vals[j : j+1 : j+1] // capacity 1: an Add copies
		}
	}
	return vals[:spare:spare]
}

// stripIdentity removes every header that starts with X-Keygate-, in any
// case and with "_" for any "-": CGI, PHP, WSGI and the frameworks that
// map header names to HTTP_* variables read X-Keygate_Subject as
// X-Keygate-Subject.
func stripIdentity(h http.Header) {
	for name := range h {
		if identityName(name) {
			delete(h, name)
		}
	}
}

// identityName reports whether name is an identity header's, as any
// upstream may read it.
func identityName(name string) bool {
	if len(name) < len(identityPrefix) {
		return false
	}
	for i := 0; i < len(identityPrefix); i++ {
		c, p := name[i], identityPrefix[i]
		if c == '_' {
			c = '-'
		}
		if c|0x20 != p|0x20 { // ASCII letters in any case; '-' is 0x2d either way
			return false
		}
	}
	return true
}

// validValue reports whether v is printable ASCII (spaces allowed): what
// the identity headers may carry.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// loopback are the proxies trusted when Config.TrustedProxies is empty.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// NewClientIPResolver returns the client-IP resolver for
// middleware.AccessConfig.ClientIP that trusts the same proxies as a
// Gateway whose Config.TrustedProxies is trusted (the loopback addresses
// when it is empty), so that the client address of a forwarded request,
// which the IP rules, the failure limit and the audit events use, is the
// client's rather than the proxy's.
func NewClientIPResolver(trusted []netip.Prefix) (*ipbind.Resolver, error) {
	if len(trusted) == 0 {
		trusted = loopback
	}
	list := make([]string, len(trusted))
	for i, p := range trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: invalid trusted proxy prefix", ErrInvalidConfig)
		}
		list[i] = p.Masked().String()
	}
	return ipbind.NewResolver(ipbind.Config{TrustedProxies: list})
}

// fromTrustedProxy reports whether r's TCP peer is a trusted proxy.
func (g *Gateway) fromTrustedProxy(r *http.Request) bool {
	ip, ok := ipbind.RemoteIP(r)
	if !ok {
		return false
	}
	trusted := g.trusted
	if len(trusted) == 0 {
		trusted = loopback
	}
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// newTransport is http.DefaultTransport's configuration with the dial and
// response-header timeouts.
func newTransport(dial, header time.Duration) *http.Transport {
	if dial <= 0 {
		dial = 10 * time.Second
	}
	if header <= 0 {
		header = 60 * time.Second
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = header
	return t
}
