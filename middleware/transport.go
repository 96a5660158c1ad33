package middleware

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/keygate/keygate/ipbind"
)

// ErrInsecureTransport is returned when Config.HTTPSOnly is set and a
// request carries a credential over plain HTTP: 400 invalid_request,
// "HTTPS is required", audited with reason [CodeInsecureTransport]. The
// credential is not looked at: it is not counted as a failed
// authentication either.
var ErrInsecureTransport = fmt.Errorf("%w: HTTPS is required", ErrInvalidRequest)

// transportCheck is Config.HTTPSOnly: whether it is on, and the proxies
// (AccessConfig.ClientIP's trusted proxies) whose X-Forwarded-Proto and
// Forwarded proto= are believed.
type transportCheck struct {
	httpsOnly bool
	proxies   []netip.Prefix
}

// newTransportCheck returns the transport check of cfg.
func newTransportCheck(cfg Config) transportCheck {
	if !cfg.HTTPSOnly {
		return transportCheck{}
	}
	return transportCheck{httpsOnly: true, proxies: cfg.Access.ClientIP.TrustedProxies()}
}

// CheckTransport applies Config.HTTPSOnly to r, a request that carries a
// credential: it returns an error wrapping [ErrInsecureTransport] when
// HTTPSOnly is set and r did not arrive over HTTPS, and nil otherwise. r
// arrived over HTTPS when its connection is TLS (r.TLS is set), or when
// its TCP peer is one of the trusted proxies of AccessConfig.ClientIP
// and that proxy says so: every protocol it names, in X-Forwarded-Proto
// (comma-separated) and in the proto= parameters of Forwarded (RFC
// 7239), is https, and it names at least one. Such headers from any
// other peer are ignored.
//
// It does not look at what r carries: the caller decides that r carries a
// credential. [Authenticator.Require] applies it, before anything else, to
// every request with an Authorization, Signature or Signature-Input
// header; the OAuth endpoints of package oauth apply it to every request,
// since each carries a client credential, a password or a token.
func (a *Authenticator) CheckTransport(r *http.Request) error {
	if !a.transport.httpsOnly || r.TLS != nil {
		return nil
	}
	if peer, ok := ipbind.RemoteIP(r); ok && a.transport.trusted(peer) && forwardedHTTPS(r.Header) {
		return nil
	}
	return ErrInsecureTransport
}

// carriesCredential reports whether r has a header that carries a
// credential Require reads.
func carriesCredential(r *http.Request) bool {
	return len(r.Header["Authorization"]) > 0 || len(r.Header["Signature"]) > 0 || len(r.Header["Signature-Input"]) > 0
}

// trusted reports whether peer is one of the trusted proxies.
func (t transportCheck) trusted(peer netip.Addr) bool {
	for _, p := range t.proxies {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// forwardedHTTPS reports whether the forwarding headers h name at least
// one protocol and every one they name is https.
func forwardedHTTPS(h http.Header) bool {
	named := false
	for _, line := range h["X-Forwarded-Proto"] {
		for v := range strings.SplitSeq(line, ",") {
			if !strings.EqualFold(strings.TrimSpace(v), "https") {
				return false
			}
			named = true
		}
	}
	for _, line := range h["Forwarded"] {
		for _, param := range forwardedParams(line) {
			name, value, _ := strings.Cut(param, "=")
			if !strings.EqualFold(strings.TrimSpace(name), "proto") {
				continue
			}
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if !strings.EqualFold(value, "https") {
				return false
			}
			named = true
		}
	}
	return named
}

// forwardedParams splits a Forwarded header line into its name=value
// parameters, across its elements: at each comma and semicolon outside a
// quoted string.
func forwardedParams(line string) []string {
	var params []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';'):
			params = append(params, line[start:i])
			start = i + 1
		}
	}
	return append(params, line[start:])
}

// checkTransport is CheckTransport for a request behind Require: only
// when it carries a credential in its headers.
func (a *Authenticator) checkTransport(r *http.Request) error {
	if !a.transport.httpsOnly || !carriesCredential(r) {
		return nil
	}
	return a.CheckTransport(r)
}
