package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/geo"
	"github.com/keygate/keygate/ipbind"
)

// The Authenticator's guard: the checks that every endpoint taking a
// credential applies, whether it is behind [Authenticator.Require] or, like
// the OAuth endpoints of package oauth, checks credentials of its own. They
// share the Authenticator's state, so that the limits and rules are the
// same everywhere:
//
//   - [Authenticator.Blocked] and [Authenticator.Failed]: the failed
//     authentications per client address (AccessConfig.AuthFailures). An
//     address blocked on one endpoint is blocked on all of them.
//   - [Authenticator.Allow]: the caller's rate limit (AccessConfig.RateLimit),
//     under the same key as its requests through Require.
//   - [Authenticator.CheckOrigin]: a credential's IP and country rules, the
//     service's and its account's IP rules (AccessConfig.IPRules) and the
//     service's country rules (AccessConfig.Countries).
//   - [Authenticator.ClientIP]: the client address all of them use.
//
// Require itself is built on them.

// Errors of the guard. Test for them with [errors.Is]; [Classify] maps them
// to their responses.
var (
	// ErrRateLimited is returned when the caller is over its rate-limit policy:
	// 429 rate_limited, with Retry-After and the RateLimit headers.
	ErrRateLimited = errors.New("middleware: rate limited")
	// ErrTooManyFailures is returned when the client address failed to
	// authenticate too often (AccessConfig.AuthFailures): 429
	// too_many_failures, with Retry-After.
	ErrTooManyFailures = errors.New("middleware: too many failed authentications")
)

// ClientIP returns the client address the Authenticator uses for r (read
// through AccessConfig.ClientIP's trusted proxies), and whether it is
// known.
func (a *Authenticator) ClientIP(r *http.Request) (netip.Addr, bool) {
	if a.access == nil {
		return netip.Addr{}, false
	}
	return a.access.clientIP(r)
}

// Blocked reports whether r's client address has used up its budget of
// failed authentications, and if so how long until it may try again. It
// counts nothing. An endpoint that checks credentials asks it first and,
// when blocked, answers 429 too_many_failures with Retry-After, before
// looking up any credential. When the limiter's store is down, an
// instance that saw a failed authentication within the policy's window
// answers blocked with the error (fail closed, 503); one that saw none
// goes by its own count, which blocks nothing, so that a shared limiter's
// outage does not refuse every request. With AuthFailures disabled
// nothing is blocked.
func (a *Authenticator) Blocked(r *http.Request) (retryAfter time.Duration, blocked bool, err error) {
	if a.access == nil {
		return 0, true, errNotConfigured
	}
	ip, known := a.access.clientIP(r)
	return a.access.blocked(r, ip, known)
}

// Failed counts one failed authentication (a wrong key, secret, password
// or token) from r's client address, against the same budget as the
// failures behind Require. It is best effort: a store error changes no
// answer.
func (a *Authenticator) Failed(r *http.Request) {
	if a.access == nil || a.access.failures == nil {
		return
	}
	ip, known := a.access.clientIP(r)
	a.access.failed(r.Context(), a.access.failureKey(r, ip, known))
}

// Allow counts one request of the authenticated caller p against its rate
// limit (AccessConfig.RateLimit), under the same key as p's requests
// through Require (see [AccessConfig]), and sets the RateLimit headers on
// w. Over the limit it returns an error wrapping [ErrRateLimited] (and
// Retry-After is set); a limiter failure is another error (503).
func (a *Authenticator) Allow(ctx context.Context, w http.ResponseWriter, p keygate.Principal) error {
	if a.access == nil {
		return errNotConfigured
	}
	return a.access.rateLimit(ctx, w, &p)
}

// CheckOrigin applies the origin rules of a credential's grant g (its
// AllowedIPs, DeniedIPs, AllowedCountries and DeniedCountries; empty
// lists restrict nothing), the service-wide IP rules and those of
// g.Account (AccessConfig.IPRules), and the service's country rules
// (AccessConfig.Countries, through AccessConfig.Geo) to r's client
// address: the very check behind Require. It returns the client's
// country when a rule looked it up (for an audit event), and an error
// wrapping [ErrForbidden] when the credential may not be used from there:
// a list that does not parse admits nobody, and a country rule without a
// known address or a Geo resolver refuses. A failing country lookup, or
// IP rules that cannot be read, is another error (503).
func (a *Authenticator) CheckOrigin(r *http.Request, g keygate.Grant) (country string, err error) {
	if a.access == nil {
		return "", errNotConfigured
	}
	ip, known := a.access.clientIP(r)
	return a.access.checkOriginAndIPRules(r.Context(), g.Account, parseOrigin(g), ip, known)
}

// parseOrigin parses the origin rules of a credential's grant g into
// keyRules without permissions: for rulesFor, which adds them and caches
// the result, and for CheckOrigin, which needs the origin alone.
func parseOrigin(g keygate.Grant) *keyRules {
	kr := &keyRules{origin: g}
	var err1, err2 error
	kr.ipRules, err1 = ipbind.ParseRules(g.AllowedIPs, g.DeniedIPs)
	kr.countries, err2 = geo.ParseRules(geo.RulesConfig{Allow: g.AllowedCountries, Deny: g.DeniedCountries})
	kr.badOrigin = err1 != nil || err2 != nil
	return kr
}

// blocked is Blocked for r from the client address ip. The failure key
// is formatted only when the limiter is asked: a request on an instance
// that saw no failure lately, with an in-memory limiter, pays nothing.
func (s *accessState) blocked(r *http.Request, ip netip.Addr, known bool) (time.Duration, bool, error) {
	if s.failures == nil || !s.mayBeBlocked() {
		return 0, false, nil
	}
	blocked, d, err := s.failures.Blocked(r.Context(), s.failureKey(r, ip, known))
	if err != nil {
		if !s.failedHere() {
			// A shared limiter that cannot be asked, on an instance
			// that saw no failure within the window: no address can
			// be over the limit by this instance's own count, so the
			// request goes on to have its credential checked (as it
			// would with an in-memory limiter), rather than every
			// request failing while the shared store is down.
			return 0, false, nil
		}
		return 0, true, fmt.Errorf("middleware: failure limiter: %w", err)
	}
	return d.RetryAfter, blocked, nil
}

// retryAfterSeconds formats a wait in whole seconds, rounded up, at least
// 1, for a Retry-After header.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}
