package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/geo"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/ratelimit"
)

// AccessConfig is the access-control part of [Config]: where a caller may
// call from, what it may do, and how often.
type AccessConfig struct {
	// ClientIP resolves the client's address, reading forwarding headers
	// only from trusted proxies. Nil means the peer address alone.
	ClientIP *ipbind.Resolver
	// Countries restricts the countries every credential may be used
	// from, looked up through Geo. An empty set allows every country (and
	// needs no Geo). When a rule exists, a client whose IP is unknown is
	// refused (AllowUnknown covers only known addresses without a country).
	Countries geo.Rules
	// Geo resolves client addresses to countries.
	Geo geo.Resolver
	// Packages orders the service's packages, lowest first; a Rule's
	// Package, the minimum package of the route, is checked against the
	// credential's package. Required for rules with a Package.
	//
	// Packages also decides what a credential holds
	// ([access.Packages.Effective] with the Principal's Package): a
	// credential without permissions (a standard one) holds what its
	// package includes, never an admin permission; one with permissions
	// (a restricted one) holds them intersected with its package's,
	// except the permissions that no package includes (admin:*), which
	// its own list alone decides. A Rule's Permission is checked against
	// these effective grants, and the Principal handed to the handler
	// carries them in Permissions. Nil means no package includes
	// anything: a credential holds exactly its own permissions, and one
	// without any holds nothing.
	Packages *access.Packages
	// Roles names sets of permissions. A credential's permission entry
	// "@name" grants role name's permissions (an unknown role makes the
	// whole list grant nothing: default deny). The Principal's
	// Permissions list them expanded.
	Roles access.Roles
	// Limiter counts requests for the rate limits. Nil means a new
	// in-memory limiter. Another limiter than a *ratelimit.MemoryLimiter
	// is taken to be shared between instances (Redis): each request then
	// asks it whether the client address is over AuthFailures, since other
	// instances count failures in it too. (A MemoryLimiter is taken to be
	// this Authenticator's alone.) It is a [ratelimit.Peeker] because the
	// failure limit asks whether an address is over without counting.
	Limiter ratelimit.Peeker
	// RateLimit chooses the policy of an authenticated caller. Nil means
	// no limit: set one (for example by package, with test mode unlimited
	// or capped) to enable rate limiting.
	//
	// A policy is one budget per account: every API key, HMAC credential
	// and access token of the account draws from it, on every instance
	// that shares the Limiter. Budgets are kept per account and policy
	// name, so a function that gives one account's credentials different
	// policies (test and live mode, say) should name them differently;
	// credentials of the same account under the same name share one
	// budget. A caller without an account is counted per credential.
	RateLimit func(keygate.Principal) ratelimit.Policy
	// RateLimitPerCredential opts in to one budget per credential (key
	// ID) instead of per account: an account with three credentials then
	// gets three times its policy.
	RateLimitPerCredential bool
	// AuthFailures bounds failed authentications per client IP. The zero
	// Policy means 100 per minute; a negative Limit disables it.
	AuthFailures ratelimit.Policy
	// IPRules, when set, applies the service-wide IP rules and those of
	// the caller's account ([IPRules]) to every authenticated request and
	// in [Authenticator.CheckOrigin], on top of the credential's own: a
	// refusal is 403 ip_forbidden, and rules that cannot be read answer
	// 503. [*iprule.Checker] implements it.
	IPRules IPRules
}

// errors of the access checks; each wraps a public sentinel.
var (
	errRateLimited   = fmt.Errorf("%w", ErrRateLimited)
	errTooManyFails  = fmt.Errorf("%w", ErrTooManyFailures)
	errIPForbidden   = fmt.Errorf("%w: client IP", ErrForbidden)
	errGeoForbidden  = fmt.Errorf("%w: country", ErrForbidden)
	errRuleForbidden = fmt.Errorf("%w: package", ErrInsufficientScope)
)

// ErrForbidden is returned when the credential is valid but may not be used
// from where the request comes from (its IP binding or the country rules): 403
// with the reason code ip_forbidden or geo_forbidden.
var ErrForbidden = errors.New("middleware: forbidden from this origin")

// accessState is what New prepares from AccessConfig.
type accessState struct {
	cfg      AccessConfig
	limiter  ratelimit.Peeker
	failures *ratelimit.FailureLimiter
	// failureWindow and lastFailure let a request skip the failure check
	// when no authentication failed within a window: no address can be
	// blocked then, and normal traffic pays nothing for the limit. Only
	// with an in-process limiter (localFailures): a shared one also holds
	// the failures other instances counted.
	failureWindow time.Duration
	lastFailure   atomic.Int64 // Unix nanoseconds
	perKey        sync.Map     // key ID → *keyRules: parsed grants and IP rules, reused while unchanged

	// localFailures: the limiter is this process's, so lastFailure sees
	// every failure it holds.
	localFailures bool
	// anyCountry says that cfg.Countries is empty.
	anyCountry bool
	now        func() time.Time // Config.Now
	// peers caches the peer addresses of clientIP without a Resolver.
	peers peerCache
}

func newAccessState(cfg AccessConfig, now func() time.Time) (*accessState, error) {
	s := &accessState{cfg: cfg, limiter: cfg.Limiter, now: now, anyCountry: cfg.Countries.Empty()}
	if s.limiter == nil {
		s.limiter = ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	}
	if !cfg.Countries.Empty() && cfg.Geo == nil {
		return nil, errors.New("middleware: AccessConfig.Countries needs a Geo resolver")
	}
	if cfg.AuthFailures.Limit >= 0 {
		policy := cfg.AuthFailures
		if policy == (ratelimit.Policy{}) {
			policy = ratelimit.DefaultFailurePolicy
		}
		if err := policy.Validate(); err != nil {
			return nil, fmt.Errorf("middleware: AccessConfig.AuthFailures: %w", err)
		}
		s.failures = ratelimit.NewFailureLimiter(s.limiter, policy)
		s.failureWindow = policy.Window
		_, s.localFailures = s.limiter.(*ratelimit.MemoryLimiter)
	}
	return s, nil
}

// clientIP resolves the caller's address.
func (s *accessState) clientIP(r *http.Request) (netip.Addr, bool) {
	if s.cfg.ClientIP != nil {
		return s.cfg.ClientIP.ClientIP(r)
	}
	return s.peers.remoteIP(r)
}

// failureKey is what failed authentications are counted under: the client
// IP, or, when it is unknown, the TCP peer, so that making one's address
// unknown (disagreeing forwarding headers, say) does not escape the limit.
// An IPv6 address counts with its /64, which one client holds whole:
// otherwise it could guess from 2^64 addresses, each with its own budget.
func (s *accessState) failureKey(r *http.Request, ip netip.Addr, known bool) string {
	if known {
		return addrKey(ip)
	}
	if peer, ok := ipbind.RemoteIP(r); ok {
		return "peer:" + addrKey(peer)
	}
	return "unknown"
}

// addrKey is an address as one client's: an IPv4 address itself, an IPv6
// address its /64 prefix.
func addrKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// mayBeBlocked reports whether any address could be over the failure
// limit: some authentication failed within the last window, or the
// limiter is shared with other instances, whose failures this one does
// not see.
func (s *accessState) mayBeBlocked() bool {
	return !s.localFailures || s.failedHere()
}

// failedHere reports whether an authentication failed on this instance
// within the last window.
func (s *accessState) failedHere() bool {
	last := s.lastFailure.Load()
	return last != 0 && s.now().Sub(time.Unix(0, last)) <= s.failureWindow
}

// failed counts a failed authentication under key.
func (s *accessState) failed(ctx context.Context, key string) {
	s.lastFailure.Store(s.now().UnixNano())
	s.failures.Failed(ctx, key) // best effort: a store error here changes no answer
}

// countsAsFailure reports whether err is a presented credential that was
// refused: a request without credentials is not a guess.
func countsAsFailure(err error) bool {
	return Classify(err).Status == http.StatusUnauthorized && !errors.Is(err, ErrNoCredentials)
}

// sameOrigin reports whether grants g and h have the same origin rules (IP
// and country allow and deny lists); their other fields play no part.
func sameOrigin(g, h *keygate.Grant) bool {
	return slices.Equal(g.AllowedIPs, h.AllowedIPs) && slices.Equal(g.DeniedIPs, h.DeniedIPs) &&
		slices.Equal(g.AllowedCountries, h.AllowedCountries) && slices.Equal(g.DeniedCountries, h.DeniedCountries)
}

// originOf returns a copy of g's origin rules alone, sharing no memory with
// g.
func originOf(g *keygate.Grant) keygate.Grant {
	return keygate.Grant{AllowedIPs: slices.Clone(g.AllowedIPs), DeniedIPs: slices.Clone(g.DeniedIPs),
		AllowedCountries: slices.Clone(g.AllowedCountries), DeniedCountries: slices.Clone(g.DeniedCountries)}
}

// keyRules are a credential's effective grants and parsed origin rules,
// cached by key ID and rebuilt when the credential's lists or its package
// change.
type keyRules struct {
	perms []string
	// origin holds the credential's origin rules (its grant's IP and
	// country lists; its other fields are empty).
	origin    keygate.Grant
	grants    access.Grants
	ipRules   ipbind.Rules
	countries geo.Rules
	badOrigin bool // a list did not parse: admit nobody
	// anyOrigin says that the credential has no origin rule at all
	// (ipRules and countries empty, none malformed): its own rules
	// admit every address, known or not, without a country lookup.
	anyOrigin bool

	// perms is the credential's own list, as the Principal had it, and
	// pkg the package the grants were computed for; grants are the
	// effective grants of both, what a Rule's Permission is checked
	// against.
	pkg string
	// effective is grants' canonical list, the Principal's Permissions
	// once accepted: shared by the requests, read-only. Nil when empty.
	// pristine is a private copy: a handler that wrote into its
	// Principal's Permissions makes the entry stale, so that the next
	// request gets a new one (no allocation while it matches).
	effective, pristine []string
}

// rulesFor returns the effective grants and the origin rules of p (its
// credential's permissions and package, and the origin lists of g). A
// malformed permission list grants nothing (the credential is still a
// restricted one), and a malformed origin list admits no IP. A Principal
// that this middleware accepted, whose Permissions are the very effective
// list of the cached entry, gets that entry (its list is not taken for
// the credential's own).
func (s *accessState) rulesFor(p *keygate.Principal, g *keygate.Grant) *keyRules {
	if v, ok := s.perKey.Load(p.KeyID); ok {
		kr := v.(*keyRules)
		if kr.pkg == p.Package && sameOrigin(&kr.origin, g) && slices.Equal(kr.effective, kr.pristine) &&
			(slices.Equal(kr.perms, p.Permissions) || sameSlice(p.Permissions, kr.effective)) {
			return kr
		}
	}
	kr := parseOrigin(originOf(g))
	kr.anyOrigin = !kr.badOrigin && kr.ipRules.Empty() && kr.countries.Empty()
	kr.perms, kr.pkg = slices.Clone(p.Permissions), p.Package
	kr.grants = s.cfg.Packages.ForCredential(p.Package, p.Permissions, s.cfg.Roles)
	if kr.grants.Len() > 0 {
		kr.effective = slices.Clip(kr.grants.Permissions())
		kr.pristine = slices.Clone(kr.effective)
	}
	s.perKey.Store(p.KeyID, kr)
	return kr
}

// sameSlice reports whether a and b are the same non-empty slice (not
// merely equal ones).
func sameSlice(a, b []string) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// checkOriginAndIPRules is the one origin check of every boundary
// (Require and Authenticator.CheckOrigin): first the service-wide IP rules
// and those of account (AccessConfig.IPRules), then the credential's own
// origin rules kr and the country rules (checkOrigin). It returns the
// client's country when a country rule looked it up.
func (s *accessState) checkOriginAndIPRules(ctx context.Context, account string, kr *keyRules, ip netip.Addr, known bool) (country string, err error) {
	if err := s.checkIPRules(ctx, account, ip, known); err != nil {
		return "", err
	}
	return s.checkOrigin(kr, ip, known)
}

// checkOrigin applies the credential's IP binding and the country rules.
// When a rule needed the client's country, it is looked up once and
// returned (empty if unknown), whatever the outcome, for the audit event.
func (s *accessState) checkOrigin(kr *keyRules, ip netip.Addr, known bool) (country string, err error) {
	if kr.anyOrigin && s.anyCountry {
		return "", nil // no rule: nothing below could refuse or look up
	}
	if kr.badOrigin {
		return "", errIPForbidden // a list that cannot be enforced admits nobody
	}
	if err := kr.ipRules.Check(ip, known); err != nil {
		return "", fmt.Errorf("%w: %w", errIPForbidden, err)
	}
	var found, looked bool
	for _, rules := range [...]*geo.Rules{&s.cfg.Countries, &kr.countries} {
		if rules.Empty() {
			continue
		}
		if !known || s.cfg.Geo == nil {
			return "", errGeoForbidden // no way to know the country: refuse
		}
		if !looked {
			code, ok, err := s.cfg.Geo.Country(ip)
			if err != nil {
				return "", fmt.Errorf("middleware: country lookup: %w", err)
			}
			looked, found = true, ok && countryCode(code)
			if found {
				country = code
			}
		}
		if err := rules.Check(country, found); err != nil {
			return country, fmt.Errorf("%w: %w", errGeoForbidden, err)
		}
	}
	return country, nil
}

// countryCode reports whether code is two upper-case ASCII letters, as
// [geo.Resolver] promises; anything else counts as an unknown country.
func countryCode(code string) bool {
	return len(code) == 2 && 'A' <= code[0] && code[0] <= 'Z' && 'A' <= code[1] && code[1] <= 'Z'
}

// compiledRule is a Rule with its requirement parsed once.
type compiledRule struct {
	Rule
	req access.CompiledRequirement
	has bool // whether the rule has a permission or package requirement
}

func (a *Authenticator) compile(rule Rule) (compiledRule, error) {
	c := compiledRule{Rule: rule}
	if rule.Permission == "" && rule.Package == "" {
		return c, nil
	}
	req, err := access.ParseRequirement(rule.Permission, rule.Package, a.access.cfg.Packages)
	if err != nil {
		return compiledRule{}, fmt.Errorf("middleware: rule %q/%q: %w", rule.Permission, rule.Package, err)
	}
	c.req, c.has = req, true
	return c, nil
}

// checkRequirement applies the rule's permission and minimum package to p.
func (c *compiledRule) checkRequirement(r *http.Request, p *keygate.Principal, kr *keyRules) error {
	if !c.has {
		return nil
	}
	entity := p.Store
	if c.EntityPathValue != "" {
		entity = r.PathValue(c.EntityPathValue)
	}
	if err := c.req.Check(p.Package, kr.grants, entity); err != nil {
		return fmt.Errorf("%w: %w", errRuleForbidden, err)
	}
	return nil
}

// rateLimit counts an authenticated request, under its account (see
// AccessConfig.RateLimit), and sets the RateLimit headers. It returns
// errRateLimited (429) when over the policy.
func (s *accessState) rateLimit(ctx context.Context, w http.ResponseWriter, p *keygate.Principal) error {
	if s.cfg.RateLimit == nil {
		return nil
	}
	policy := s.cfg.RateLimit(*p)
	if policy.Unlimited() {
		return nil
	}
	key := "rate:" + policy.Name + ":account:" + p.Account
	if s.cfg.RateLimitPerCredential || p.Account == "" {
		key = "rate:" + policy.Name + ":key:" + p.KeyID
	}
	d, err := s.limiter.Allow(ctx, key, policy)
	if err != nil {
		return fmt.Errorf("middleware: rate limiter: %w", err)
	}
	ratelimit.SetHeaders(w.Header(), policy, d)
	if !d.Allowed {
		return errRateLimited
	}
	return nil
}
