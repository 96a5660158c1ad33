// Package oauth serves keygate's OAuth 2.0 endpoints, each an http.Handler:
// the token endpoint (RFC 6749: client_credentials, password and
// refresh_token grants), token revocation (RFC 7009) and token
// introspection (RFC 7662). It composes package apikey (clients are API
// keys) with package jwt (access and refresh tokens).
//
// # Clients
//
// The same rules hold on every endpoint. client_id is an API key's key ID,
// exactly the key_id that /v1/whoami shows for it.
//   - A secret key's ID is a confidential client. It authenticates with
//     client_secret = the whole secret key, by HTTP Basic (RFC 6749 §2.3.1,
//     form-encoded) or in the form body, never both. It may use every grant,
//     revoke its tokens and introspect tokens (a resource server).
//   - A publishable key's ID is a public client (a mobile app, a terminal).
//     It sends client_id without any secret and may use only the password
//     and refresh_token grants, and revoke its own tokens.
//
// Unknown, revoked, disabled, expired or unapproved client keys, and wrong
// secrets, all give invalid_client (401 with a WWW-Authenticate challenge).
// So does a client key used from where its origin rules (allowed and
// denied IPs and countries, and the service's country rules) forbid it:
// the check is the middleware's own ([middleware.Authenticator.CheckOrigin],
// through [Config.Guard]), on every endpoint.
//
// # Throttling
//
// With [Config.Guard] set to the [*middleware.Authenticator] of the
// protected routes, the endpoints are throttled as those routes are, on
// the same state (and so, with a shared limiter, on every instance):
//
//   - Failures per client address. A wrong client secret or unknown client
//     (invalid_client), a wrong password, and a refresh token that is not
//     valid (invalid_grant) each count one failure against the address's
//     budget, AccessConfig.AuthFailures (100 a minute by default), the
//     same budget that wrong keys on the protected routes use. Once it is
//     used up, every endpoint answers 429 {"error":"too_many_failures"}
//     with Retry-After, before any key lookup or password hash; an
//     address blocked on the protected routes is blocked here, and the
//     other way round.
//   - The client's rate limit. Each token request counts against the
//     client key's rate-limit policy (AccessConfig.RateLimit), in its
//     account's budget; over it: 429 {"error":"rate_limited"} with
//     Retry-After and the RateLimit headers.
//
// Two bounds hold with or without a Guard:
//
//   - Failures per user name. Wrong passwords are also counted per user
//     name, across addresses ([Config.UserFailures]: by default a burst of
//     10, then one a minute; unknown names are counted alike, so the
//     answer tells nothing about which names exist). Over it, the password
//     grant answers 429 too_many_failures, with a Retry-After of at most
//     one minute, before hashing. So that an attacker cannot lock a user
//     out, the bound never applies from an address the user signed in
//     from within [Config.KnownAddressTTL] (30 days; an IPv6 address
//     counts with its /64), and it is short: it delays guesses rather than
//     locking the account (OWASP's advice against lockout; the shape of
//     Keycloak's temporary lockout, without its permanent one). A
//     sustained attack from many addresses gets one guess a minute per
//     user name, and can delay sign-ins of that user only from addresses
//     it has not signed in from recently, each by at most a minute at a
//     time. Guesses from an address the user recently used stay bounded
//     by the per-address budget.
//   - Password checks per client address. [PasswordUsers] runs a few
//     Argon2id checks at once (4), of which one client address holds at
//     most one (MaxPerClient): a client that sends many guesses at once
//     gets 503 temporarily_unavailable for all but one, and the others'
//     sign-ins still find a slot.
//
// # Scope
//
// A scope token is a permission, such as "products:read" or "orders:*".
// An optional scope parameter narrows the grant to those permissions and
// never widens it: each must be among what the client key effectively
// holds now, as the middleware enforces it (its account's package and its
// roles applied, with the wildcard rules of package access: a key holding
// "orders:*" may ask for "orders:read", not the reverse), and within the
// key's own list when it has one; otherwise invalid_scope. A standard key
// (one without permissions) may ask for permissions of its package.
// Without a scope, the token gets the key's permissions (none for a
// standard key: the token is standard too, and its package bounds it).
// A refreshed token never holds more than its key holds at the refresh;
// a family none of whose permissions the key still holds is refused
// (invalid_grant).
package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/ipbind"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/ratelimit"
)

// Clients finds and authenticates clients. [*apikey.Manager] implements
// it.
type Clients interface {
	// Get returns the record of the key with that ID.
	Get(ctx context.Context, id string) (apikey.Record, error)
	// Verify checks a whole key and returns its record.
	Verify(ctx context.Context, key string) (apikey.Record, error)
}

// User is a resource owner that the password grant authenticated.
type User struct {
	// Subject is the sub of the user's tokens. Required.
	Subject string
	// Account the user belongs to; it must be the client's account.
	Account string
}

// Users authenticates resource owners for the password grant.
type Users interface {
	// Authenticate returns the user with that name and password, or an
	// error wrapping [ErrBadCredentials] (or a store error).
	Authenticate(ctx context.Context, username, password string) (User, error)
}

// ErrBadCredentials is what [Users] return for an unknown user or a wrong
// password; the token endpoint answers it with invalid_grant.
var ErrBadCredentials = errors.New("oauth: bad user credentials")

// ErrBusy is what [Users] return when too many password checks are under
// way; the token endpoint answers 503 temporarily_unavailable.
var ErrBusy = errors.New("oauth: too many password checks at once")

// Config configures a [Server].
type Config struct {
	// Clients authenticates clients. Required.
	Clients Clients
	// Issuer signs access tokens. Required.
	Issuer *jwt.Issuer
	// Verifier checks access tokens for revocation and introspection.
	// Required.
	Verifier *jwt.Verifier
	// Refresh issues and rotates refresh tokens. Nil disables refresh
	// tokens (and the refresh_token grant).
	Refresh *jwt.RefreshTokens
	// Users enables the password grant. Nil disables it.
	Users Users
	// Realm is the realm of the WWW-Authenticate challenge. Empty means
	// "keygate".
	Realm string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// ClientIP resolves the caller's address (trusted proxies). Nil means
	// the peer address. A client key bound to IPs (its AllowedIPs) can
	// obtain tokens only from those addresses.
	ClientIP *ipbind.Resolver
	// AnchorToClientIP binds every access token to the address of the
	// client that obtained it ("IP anchoring"): the token's
	// kg_allowed_ips is that one address, so the middleware refuses it
	// from anywhere else. A refreshed token is anchored to the address
	// that refreshed it.
	AnchorToClientIP bool
	// Accounts, when set, refuses clients whose account is disabled or
	// does not exist (invalid_client) on every endpoint, so that a
	// disabled account obtains, refreshes, revokes and introspects no
	// tokens; a lookup that fails answers 503. [*account.Manager]
	// implements it; give the same one as middleware.Config.Accounts. Nil
	// means no lookup.
	Accounts account.Lookup
	// OnChange, when set, is told of each access token revoked at the
	// revocation endpoint ([keygate.ActionTokenRevoked], with the jti and
	// the revoking client as actor). Refresh-token revocations are
	// reported by Refresh's own RefreshConfig.OnChange.
	OnChange keygate.ChangeFunc
	// Guard throttles the endpoints and checks where a client key may be
	// used from, as the middleware does on the protected routes: set it
	// to the [*middleware.Authenticator] of those routes, so that both
	// share one failure budget per client address, one rate limit per
	// account and one origin check (see the package documentation). Its
	// client-IP resolution is then used, and ClientIP is ignored.
	//
	// Nil keeps the endpoints unthrottled, as they were before Guard
	// existed: no failure budget per address and no rate limit. The
	// client key's origin rules are still applied, by the middleware's
	// check with ClientIP and no country database: its allowed and denied
	// IPs, and a key with country rules is refused (fail closed). Nor
	// does it know the service's packages and roles: a scope is then held
	// only through a key's own permissions, and a standard key (whose
	// rights are its package's) may ask for none.
	Guard Guard
	// Limiter counts failed passwords per user name and remembers the
	// addresses users signed in from (see the package documentation).
	// Nil means a new in-memory limiter; instances of one service should
	// share one (redisstore.Limiter, the middleware's).
	Limiter ratelimit.Peeker
	// UserFailures bounds failed passwords per user name, across
	// addresses. The zero Policy means [DefaultUserFailurePolicy]; a
	// negative Limit disables the bound.
	UserFailures ratelimit.Policy
	// KnownAddressTTL is how long an address a user signed in from stays
	// exempt from UserFailures for that user. Zero means
	// [DefaultKnownAddressTTL]; negative exempts no address.
	KnownAddressTTL time.Duration
}

// Guard is what the endpoints need of the middleware: the failure budget
// per client address, the rate limit and the origin check.
// [*middleware.Authenticator] implements it; see its methods for the
// contract. Errors of Allow and CheckOrigin that say no wrap
// [middleware.ErrRateLimited] and [middleware.ErrForbidden]; any other
// error is answered 503.
type Guard interface {
	// ClientIP returns r's client address and whether it is known.
	ClientIP(r *http.Request) (netip.Addr, bool)
	// Blocked reports whether r's client address is over its failure
	// budget (blocked is true on error as well).
	Blocked(r *http.Request) (retryAfter time.Duration, blocked bool, err error)
	// Failed counts one failed authentication from r's client address.
	Failed(r *http.Request)
	// Allow counts a request of p against its rate limit and sets the
	// RateLimit headers on w.
	Allow(ctx context.Context, w http.ResponseWriter, p keygate.Principal) error
	// CheckOrigin applies to r's client address the service-wide IP
	// rules and those of g.Account, the origin rules of the credential's
	// grant g, and the service's country rules: the check the middleware
	// applies to every request. It returns the client's country when a
	// country rule looked it up.
	CheckOrigin(r *http.Request, g keygate.Grant) (country string, err error)
	// Grants returns what the credential p effectively holds, as the
	// middleware enforces it (its package and roles applied): the scope
	// a client asks for must be among it.
	Grants(p keygate.Principal) access.Grants
	// NarrowToKey returns the permissions of a token that its client key,
	// holding keyPerms now, still grants, or an error when it grants none
	// of them.
	NarrowToKey(tokenPerms, keyPerms []string) ([]string, error)
	// CheckTransport returns an error wrapping
	// [middleware.ErrInsecureTransport] when r, which carries a
	// credential, must not be served over the transport it came on
	// (middleware.Config.HTTPSOnly). The endpoints ask it first, since
	// every request to them carries a client credential, a password or a
	// token, and answer 400 invalid_request "HTTPS is required".
	CheckTransport(r *http.Request) error
}

// DefaultUserFailurePolicy bounds failed passwords per user name when
// [Config.UserFailures] is zero: 10 in a burst, then one a minute.
var DefaultUserFailurePolicy = ratelimit.Policy{Name: "user-failures", Limit: 10, Window: 10 * time.Minute}

// DefaultKnownAddressTTL is how long an address stays known for a user
// after a sign-in from it, when [Config.KnownAddressTTL] is zero.
const DefaultKnownAddressTTL = 30 * 24 * time.Hour

// Server holds the OAuth 2.0 endpoints. Create it with [NewServer].
type Server struct {
	cfg          Config
	guard        Guard
	userFailures *ratelimit.FailureLimiter // nil: no bound per user name
	limiter      ratelimit.Peeker
	known        ratelimit.Policy // Limit 1 per KnownAddressTTL; unlimited: none
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Clients == nil || cfg.Issuer == nil || cfg.Verifier == nil {
		return nil, errors.New("oauth: Config.Clients, Issuer and Verifier are required")
	}
	if cfg.Realm == "" {
		cfg.Realm = "keygate"
	}
	if strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, errors.New("oauth: Config.Realm must not contain quotes, backslashes or line breaks")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, guard: cfg.Guard, limiter: cfg.Limiter}
	if s.guard == nil {
		// The middleware's origin check, unthrottled, as documented.
		auth, err := middleware.New(middleware.Config{APIKeys: cfg.Clients, Access: middleware.AccessConfig{
			ClientIP: cfg.ClientIP, AuthFailures: ratelimit.Policy{Limit: -1},
		}})
		if err != nil {
			return nil, fmt.Errorf("oauth: %w", err)
		}
		s.guard = auth
	}
	if s.limiter == nil {
		s.limiter = ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	}
	if cfg.UserFailures.Limit >= 0 {
		policy := cfg.UserFailures
		if policy == (ratelimit.Policy{}) {
			policy = DefaultUserFailurePolicy
		}
		if policy.Name == "" {
			policy.Name = DefaultUserFailurePolicy.Name
		}
		if err := policy.Validate(); err != nil {
			return nil, fmt.Errorf("oauth: Config.UserFailures: %w", err)
		}
		s.userFailures = ratelimit.NewFailureLimiter(s.limiter, policy)
	}
	if ttl := cfg.KnownAddressTTL; ttl >= 0 {
		if ttl == 0 {
			ttl = DefaultKnownAddressTTL
		}
		s.known = ratelimit.Policy{Name: "user-known", Limit: 1, Window: ttl}
	}
	return s, nil
}

// maxFormBytes bounds a request body.
const maxFormBytes = 16 << 10

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
	cause       error
	retryAfter  time.Duration // for a 429 without its own Retry-After
	reason      string        // the audit reason when it is not code
}

func (e *oauthError) Error() string { return "oauth: " + e.code + ": " + e.description }
func (e *oauthError) Unwrap() error { return e.cause }

func invalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: middleware.CodeInvalidRequest, description: desc}
}

func invalidGrant(desc string, cause error) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", description: desc, cause: cause}
}

// tooManyFailures is the 429 of an address (or, with userDescription, a
// user name) over its failure budget. It wraps
// [middleware.ErrTooManyFailures].
func tooManyFailures(retryAfter time.Duration, description string) *oauthError {
	return &oauthError{status: http.StatusTooManyRequests, code: middleware.CodeTooManyFailures, description: description,
		retryAfter: max(retryAfter, time.Second), cause: middleware.ErrTooManyFailures}
}

// rateLimited is the 429 of a caller over its rate limit. It wraps cause,
// which wraps [middleware.ErrRateLimited].
func rateLimited(cause error) *oauthError {
	return &oauthError{status: http.StatusTooManyRequests, code: middleware.CodeRateLimited, description: "too many requests; retry after the time in Retry-After", cause: cause}
}

const (
	addressDescription = "too many failed authentications from this address; retry after the time in Retry-After"
	userDescription    = "too many failed sign-ins for this user name; retry after the time in Retry-After"
)

var (
	errUnauthorized = &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", description: "this client may not use this grant type"}
	errUnavailable  = &oauthError{status: http.StatusServiceUnavailable, code: middleware.CodeTemporarilyUnavailable, description: "the server cannot handle the request right now; retry later"}
)

// writeError answers with err, which must be an *oauthError; anything else
// is answered as temporarily_unavailable, never with its text.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *oauthError
	if !errors.As(err, &e) {
		e = errUnavailable
	}
	// The audit event says why (and, once the client authenticated, who).
	reason := e.code
	if e.reason != "" {
		reason = e.reason
	}
	middleware.RefuseRequest(r.Context(), reason)
	h := w.Header()
	if e.status == http.StatusUnauthorized {
		// The scheme the endpoints accept for client authentication.
		h.Set("WWW-Authenticate", `Basic realm="`+s.cfg.Realm+`"`)
	}
	if e.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	if e.retryAfter > 0 {
		secs := int64((e.retryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// writeJSON sends v with the headers every OAuth response needs.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// readForm parses a POST body of application/x-www-form-urlencoded
// parameters, refusing repeated parameters (RFC 6749 §3.2) and parameters
// in the query string.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, invalidRequest("use POST")
	}
	if ct := r.Header.Get("Content-Type"); !strings.EqualFold(strings.TrimSpace(strings.Split(ct, ";")[0]), "application/x-www-form-urlencoded") {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, invalidRequest("parameters belong in the body, not the URL")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("the body is not a valid form")
	}
	for name, values := range r.PostForm {
		if len(values) > 1 {
			return nil, invalidRequest("the parameter " + safeName(name) + " is repeated")
		}
	}
	return r.PostForm, nil
}

// safeName returns a parameter name for an error description, or a
// placeholder when it is not plain ASCII.
func safeName(name string) string {
	if len(name) > 40 {
		return "(a long name)"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "(a name)"
		}
	}
	return name
}

// client is an authenticated client.
type client struct {
	rec          apikey.Record
	account      account.Account // the key's account, when Config.Accounts is set
	confidential bool
	anchor       []string // the client's address when tokens are anchored
}

// authenticateClient applies the client rules of the package documentation.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (client, error) {
	id, secret, basic := r.BasicAuth()
	if !basic && usesBasic(r) {
		// RFC 6749 §5.2: the client chose Basic; never fall back to the body.
		return client{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed"}
	}
	if basic {
		// RFC 6749 §2.3.1: both are form-encoded inside Basic.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return client{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed"}
		}
		if form.Has("client_secret") || (form.Has("client_id") && form.Get("client_id") != id) {
			return client{}, invalidRequest("use one client authentication method")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	fail := &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed"}
	if id == "" {
		return client{}, fail
	}
	rec, err := s.cfg.Clients.Get(r.Context(), id)
	switch {
	case errors.Is(err, apikey.ErrNotFound):
		return client{}, fail
	case err != nil:
		return client{}, err
	}
	acct, err := s.checkAccount(r.Context(), rec.Account, fail)
	if err != nil {
		return client{}, err
	}
	switch rec.Kind {
	case keygate.KindSecret:
		if secret == "" {
			return client{}, fail
		}
		verified, err := s.cfg.Clients.Verify(r.Context(), secret)
		if err != nil {
			if errors.Is(err, apikey.ErrKeyInvalid) {
				fail.cause = err
				return client{}, fail
			}
			return client{}, err
		}
		if verified.ID != rec.ID {
			return client{}, fail // a valid key, but not this client's
		}
		return client{rec: verified, account: acct, confidential: true}, nil
	case keygate.KindPublishable:
		if secret != "" {
			return client{}, fail // a public client has no secret to send
		}
		if err := rec.Usable(s.cfg.Now()); err != nil {
			fail.cause = err
			return client{}, fail
		}
		return client{rec: rec, account: acct}, nil
	}
	return client{}, fail
}

// usesBasic reports whether r has an Authorization header with the Basic
// scheme, well-formed or not.
func usesBasic(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Basic")
}

// errInsecureTransport answers a request over plain HTTP under
// middleware.Config.HTTPSOnly.
var errInsecureTransport = &oauthError{status: http.StatusBadRequest, code: middleware.CodeInvalidRequest,
	description: "HTTPS is required", reason: middleware.CodeInsecureTransport}

// guarded refuses a request over plain HTTP when HTTPS is required, and
// one from an address over its failure budget, before any credential is
// looked at.
func (s *Server) guarded(r *http.Request) error {
	if err := s.guard.CheckTransport(r); err != nil {
		if errors.Is(err, middleware.ErrInsecureTransport) {
			return errInsecureTransport
		}
		return err // 503: fail closed
	}
	wait, blocked, err := s.guard.Blocked(r)
	switch {
	case err != nil:
		return err // 503: fail closed
	case blocked:
		return tooManyFailures(wait, addressDescription)
	}
	return nil
}

// client authenticates the client, counting a failure against the
// address's budget.
func (s *Server) client(r *http.Request, form url.Values) (client, error) {
	c, err := s.authenticateClient(r, form)
	var e *oauthError
	if errors.As(err, &e) && e.code == "invalid_client" {
		s.guard.Failed(r)
	}
	if err == nil {
		// The audit event names the client, whatever happens next.
		p := c.principal()
		p.Permissions, p.Stores = nil, nil // public identifiers only
		p.ClientIP, _ = s.guard.ClientIP(r)
		middleware.RecordCaller(r.Context(), p)
	}
	return c, err
}

// checkOrigin applies the client key's origin rules (the middleware's
// check, through the Guard) to the caller's address. A key that may not be
// used from here is invalid_client, as a wrong secret is.
func (s *Server) checkOrigin(r *http.Request, c *client) error {
	// The grant carries the account, whose IP rules apply too.
	if _, err := s.guard.CheckOrigin(r, c.rec.Grant); err != nil {
		if errors.Is(err, middleware.ErrForbidden) {
			return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed", cause: err}
		}
		return err
	}
	return nil
}

// anchor records the caller's address in c when tokens are anchored.
func (s *Server) anchor(r *http.Request, c *client) error {
	if s.cfg.AnchorToClientIP {
		ip, known := s.guard.ClientIP(r)
		if !known {
			return invalidRequest("the client address cannot be determined, and tokens are bound to it")
		}
		c.anchor = []string{ip.String()}
	}
	return nil
}

// allow counts a token request against the client's rate limit, as a
// request of its key.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, c client) error {
	p := c.principal()
	p.Permissions, p.Stores = slices.Clone(p.Permissions), slices.Clone(p.Stores) // the policy may keep them
	if ip, known := s.guard.ClientIP(r); known {
		p.ClientIP = ip
	}
	err := s.guard.Allow(r.Context(), w, p)
	if errors.Is(err, middleware.ErrRateLimited) {
		return rateLimited(err) // Allow set Retry-After and the RateLimit headers
	}
	return err
}

// clientAddr is the address a request's password check is counted under:
// the client's, else the TCP peer's, else the zero Addr.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	if ip, known := s.guard.ClientIP(r); known {
		return ip
	}
	ip, _ := ipbind.RemoteIP(r)
	return ip
}

// userKey is what a user name is counted under: a hash, so that names
// are neither stored in the limiter nor of unbounded length.
func userKey(username string) string {
	sum := sha256.Sum256([]byte(username))
	return hex.EncodeToString(sum[:16])
}

// userBlocked reports whether the user name is over its failure budget
// for a sign-in from addr: never from an address the user recently signed
// in from.
func (s *Server) userBlocked(ctx context.Context, key string, addr netip.Addr) error {
	if s.userFailures == nil || s.knownAddress(ctx, key, addr) {
		return nil
	}
	blocked, d, err := s.userFailures.Blocked(ctx, key)
	switch {
	case err != nil:
		return fmt.Errorf("oauth: user failure limiter: %w", err) // 503: fail closed
	case blocked:
		return tooManyFailures(d.RetryAfter, userDescription)
	}
	return nil
}

// knownKey is the limiter key marking addr as known for the user.
func knownKey(userKey string, addr netip.Addr) string {
	return "user-known:" + userKey + ":" + password.ClientGroup(addr).String()
}

// knownAddress reports whether the user signed in from addr (its /64 for
// IPv6) within KnownAddressTTL. The mark is a limiter key with a budget of
// one per TTL, used up by the sign-in: it reads as "refused" for the TTL.
func (s *Server) knownAddress(ctx context.Context, key string, addr netip.Addr) bool {
	if s.known.Unlimited() || !addr.IsValid() {
		return false
	}
	d, err := s.limiter.Peek(ctx, knownKey(key, addr), s.known)
	return err == nil && !d.Allowed
}

// signedIn marks addr as known for the user (best effort).
func (s *Server) signedIn(ctx context.Context, key string, addr netip.Addr) {
	if s.known.Unlimited() || !addr.IsValid() {
		return
	}
	s.limiter.Allow(ctx, knownKey(key, addr), s.known)
}

// userFailed counts a failed password for the user name (best effort).
func (s *Server) userFailed(ctx context.Context, key string) {
	if s.userFailures != nil {
		s.userFailures.Failed(ctx, key)
	}
}

// authenticateUser checks a password, fairly: with the client's address
// when Users share their capacity by address.
func (s *Server) authenticateUser(ctx context.Context, addr netip.Addr, username, password string) (User, error) {
	if fu, ok := s.cfg.Users.(FairUsers); ok {
		return fu.AuthenticateFrom(ctx, addr, username, password)
	}
	return s.cfg.Users.Authenticate(ctx, username, password)
}

// grantedPermissions applies an optional scope to base, the permissions
// a token gets without one: the client key's stored list, or a refresh
// family's (empty: a standard credential's, whose package bounds it). A
// scope narrows and never widens: each of its tokens must be included in
// held, what the client key effectively holds now (its package and roles
// applied, as the middleware enforces them; with the wildcard rules of
// [access.Grants.Includes]), and, when base is not empty, in base too
// ([access.ListIncludes]). A "@role" token is accepted only when base
// names that very role. The granted list is the scope's tokens, without
// repeats.
func grantedPermissions(held access.Grants, base []string, scope string) ([]string, error) {
	if scope == "" {
		return slices.Clone(base), nil
	}
	beyond := &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: "the scope asks for more than the client holds"}
	var out []string
	for _, tok := range strings.Split(scope, " ") {
		if tok == "" || !validScopeToken(tok) {
			return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: "the scope is malformed"}
		}
		if strings.HasPrefix(tok, access.RolePrefix) {
			if !slices.Contains(base, tok) {
				return nil, beyond
			}
		} else {
			p, err := access.ParsePermission(tok)
			if err != nil {
				return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", description: "the scope is malformed"}
			}
			if !held.Includes(p) || (len(base) > 0 && !access.ListIncludes(base, tok)) {
				return nil, beyond
			}
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// held returns what the client key of c effectively holds now.
func (s *Server) held(c client) access.Grants {
	return s.guard.Grants(c.principal())
}

// principal describes the client's key as the middleware would for a
// request of it: with its account's current package when Config.Accounts
// looked the account up (the middleware takes it from there too), else
// the key's own. Its slices are the key record's: read only.
func (c client) principal() keygate.Principal {
	pkg := c.rec.Package
	if c.account.ID != "" {
		pkg = c.account.Package
	}
	return keygate.Principal{Method: keygate.MethodAPIKey, KeyID: c.rec.ID, Account: c.rec.Account, Mode: c.rec.Mode,
		Kind: c.rec.Kind, Package: pkg, Permissions: c.rec.Permissions, Stores: c.rec.Stores}
}

// validScopeToken checks RFC 6749 §3.3: 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// TokenHandler serves the token endpoint (POST /oauth/token).
func (s *Server) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := s.token(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) (tokenResponse, error) {
	if err := s.guarded(r); err != nil {
		return tokenResponse{}, err
	}
	form, err := readForm(w, r)
	if err != nil {
		return tokenResponse{}, err
	}
	grant := form.Get("grant_type")
	if grant == "" {
		return tokenResponse{}, invalidRequest("grant_type is required")
	}
	if !slices.Contains([]string{"client_credentials", "password", "refresh_token"}, grant) {
		return tokenResponse{}, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: "supported: client_credentials, password, refresh_token"}
	}
	c, err := s.client(r, form)
	if err != nil {
		return tokenResponse{}, err
	}
	if err := s.checkOrigin(r, &c); err != nil {
		return tokenResponse{}, err
	}
	if err := s.anchor(r, &c); err != nil {
		return tokenResponse{}, err
	}
	if err := s.allow(w, r, c); err != nil {
		return tokenResponse{}, err
	}
	switch grant {
	case "client_credentials":
		if !c.confidential {
			return tokenResponse{}, errUnauthorized
		}
		perms, err := grantedPermissions(s.held(c), c.rec.Permissions, form.Get("scope"))
		if err != nil {
			return tokenResponse{}, err
		}
		// RFC 9068 §2.2: with no resource owner, sub names the client.
		// RFC 6749 §4.4.3: no refresh token for client credentials.
		return s.issue(r.Context(), c, c.rec.ID, perms, false)
	case "password":
		if s.cfg.Users == nil {
			return tokenResponse{}, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: "the password grant is not enabled"}
		}
		username, password := form.Get("username"), form.Get("password")
		if username == "" || password == "" {
			return tokenResponse{}, invalidRequest("username and password are required")
		}
		perms, err := grantedPermissions(s.held(c), c.rec.Permissions, form.Get("scope"))
		if err != nil {
			return tokenResponse{}, err
		}
		addr, key := s.clientAddr(r), userKey(username)
		if err := s.userBlocked(r.Context(), key, addr); err != nil {
			return tokenResponse{}, err
		}
		user, err := s.authenticateUser(r.Context(), addr, username, password)
		if errors.Is(err, ErrBusy) {
			return tokenResponse{}, errUnavailable
		}
		if errors.Is(err, ErrBadCredentials) {
			s.guard.Failed(r)
			s.userFailed(r.Context(), key)
			return tokenResponse{}, invalidGrant("the user name or password is wrong", err)
		}
		if err != nil {
			return tokenResponse{}, err
		}
		if user.Subject == "" || user.Account != c.rec.Account {
			s.guard.Failed(r)
			return tokenResponse{}, invalidGrant("the user name or password is wrong", nil)
		}
		s.signedIn(r.Context(), key, addr)
		return s.issue(r.Context(), c, user.Subject, perms, true)
	default: // refresh_token
		resp, err := s.refresh(r.Context(), c, form)
		if errors.Is(err, jwt.ErrRefreshInvalid) {
			s.guard.Failed(r) // a refresh token that is not one is a guess too
		}
		return resp, err
	}
}

// issue mints an access token (and a refresh token family when asked and
// enabled) for the client c on behalf of subject.
func (s *Server) issue(ctx context.Context, c client, subject string, perms []string, withRefresh bool) (tokenResponse, error) {
	grant := c.rec.Grant
	grant.Package, grant.Permissions = c.principal().Package, perms
	claims := jwt.Claims{
		Subject:    subject,
		ClientID:   c.rec.ID,
		Scope:      strings.Join(perms, " "),
		Grant:      grant,
		ClientKind: c.rec.Kind,
	}
	if c.anchor != nil {
		claims.AllowedIPs = c.anchor
	}
	if !withRefresh || s.cfg.Refresh == nil {
		return s.access(ctx, claims)
	}
	// The family first, so that its first access token carries its ID
	// (sid) and is revoked with it.
	refresh, fam, err := s.cfg.Refresh.Issue(ctx, jwt.RefreshGrant{
		ClientID: c.rec.ID, Subject: subject, Scope: claims.Scope,
		Grant: keygate.Grant{
			Account: c.rec.Account, Mode: c.rec.Mode, Package: c.principal().Package,
			Permissions: perms, Stores: c.rec.Stores, AllowedIPs: c.rec.AllowedIPs,
		},
	})
	if err != nil {
		return tokenResponse{}, fmt.Errorf("oauth: refresh token: %w", err)
	}
	claims.Session = fam.Family
	resp, err := s.access(ctx, claims)
	if err != nil {
		return tokenResponse{}, err
	}
	resp.RefreshToken = refresh
	return resp, nil
}

// access signs an access token for claims.
func (s *Server) access(ctx context.Context, claims jwt.Claims) (tokenResponse, error) {
	tok, issued, err := s.cfg.Issuer.Issue(ctx, claims)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("oauth: sign: %w", err)
	}
	return tokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(issued.ExpiresAt.Sub(issued.IssuedAt) / time.Second),
		Scope:       issued.Scope,
	}, nil
}

// refresh runs the refresh_token grant: the token is rotated, the new
// access token carries the grant's scope, narrowed again if asked.
func (s *Server) refresh(ctx context.Context, c client, form url.Values) (tokenResponse, error) {
	if s.cfg.Refresh == nil {
		return tokenResponse{}, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", description: "refresh tokens are not enabled"}
	}
	old := form.Get("refresh_token")
	if old == "" {
		return tokenResponse{}, invalidRequest("refresh_token is required")
	}
	if scope := form.Get("scope"); scope != "" {
		// Check the scope before rotating: a refused request must not
		// consume the token (a family's permissions never change). A
		// token that is not active goes on to Rotate: reuse detection first.
		if rec, err := s.cfg.Refresh.Lookup(ctx, old); err == nil && rec.ClientID == c.rec.ID && rec.Status == jwt.RefreshActive {
			base, err := s.guard.NarrowToKey(rec.Permissions, c.rec.Permissions)
			if err != nil {
				return tokenResponse{}, invalidGrant("the client key no longer holds any of the grant's permissions", err)
			}
			if _, err := grantedPermissions(s.held(c), base, scope); err != nil {
				return tokenResponse{}, err
			}
		}
	}
	if c.hasCutOff() {
		// The key was rotated without grace (or disabled), or its
		// account disabled, since: the families it obtained before end
		// with the old secret or the account's suspension.
		if prev, err := s.cfg.Refresh.Lookup(ctx, old); err == nil && prev.ClientID == c.rec.ID && c.cutOff(prev.IssuedAt) {
			return tokenResponse{}, invalidGrant("the refresh token is invalid, expired or revoked", jwt.ErrRefreshRevoked)
		}
	}
	next, rec, err := s.cfg.Refresh.Rotate(ctx, old, c.rec.ID)
	if errors.Is(err, jwt.ErrRefreshInvalid) {
		return tokenResponse{}, invalidGrant("the refresh token is invalid, expired or revoked", err)
	}
	if err != nil {
		return tokenResponse{}, err
	}
	// The key may have lost permissions or stores since the grant: a
	// refreshed token never carries more than the client key holds now,
	// and takes its package and allowed IPs as they are now.
	claims := rec.AccessClaims()
	claims.ClientKind = c.rec.Kind
	claims.Package, claims.AllowedIPs = c.principal().Package, slices.Clone(c.rec.AllowedIPs)
	claims.DeniedIPs = slices.Clone(c.rec.DeniedIPs)
	claims.AllowedCountries, claims.DeniedCountries = slices.Clone(c.rec.AllowedCountries), slices.Clone(c.rec.DeniedCountries)
	if claims.Permissions, err = s.guard.NarrowToKey(claims.Permissions, c.rec.Permissions); err != nil {
		// None of the family's permissions is the key's any more: the
		// token would otherwise pass for a standard one, with the whole
		// package.
		return tokenResponse{}, invalidGrant("the client key no longer holds any of the grant's permissions", err)
	}
	claims.Stores = intersect(claims.Stores, c.rec.Stores)
	claims.Scope = strings.Join(claims.Permissions, " ")
	if c.anchor != nil {
		claims.AllowedIPs = c.anchor
	}
	if scope := form.Get("scope"); scope != "" {
		perms, err := grantedPermissions(s.held(c), claims.Permissions, scope)
		if err != nil {
			return tokenResponse{}, err
		}
		claims.Permissions, claims.Scope = perms, strings.Join(perms, " ")
	}
	resp, err := s.access(ctx, claims)
	if err != nil {
		return tokenResponse{}, err
	}
	resp.RefreshToken = next
	return resp, nil
}

// intersect returns the elements of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// RevocationHandler serves RFC 7009 token revocation (POST /oauth/revoke).
// A client may revoke only its own tokens. As the RFC asks, an invalid or
// unknown token is answered 200 as if revoked; another client's token is
// refused with unauthorized_client and stays valid.
func (s *Server) RevocationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.revoke(w, r); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	if err := s.guarded(r); err != nil {
		return err
	}
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	c, err := s.client(r, form)
	if err != nil {
		return err
	}
	if err := s.checkOrigin(r, &c); err != nil {
		return err
	}
	token := form.Get("token")
	if token == "" {
		return invalidRequest("token is required")
	}
	notYours := &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", description: "the token was not issued to this client"}
	if strings.HasPrefix(token, jwt.RefreshTokenPrefix) {
		if s.cfg.Refresh == nil {
			return nil
		}
		err := s.cfg.Refresh.Revoke(r.Context(), token, c.rec.ID)
		if errors.Is(err, jwt.ErrRefreshClient) {
			return notYours
		}
		return err
	}
	claims, err := s.cfg.Verifier.Verify(r.Context(), token)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenInvalid) {
			return nil // invalid, expired or already revoked: nothing to do
		}
		return err
	}
	if claims.ClientID != c.rec.ID {
		return notYours
	}
	if err := s.cfg.Verifier.Denylist().RevokeToken(r.Context(), claims.ID, claims.ExpiresAt); err != nil {
		return err
	}
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(r.Context(), keygate.Change{Action: keygate.ActionTokenRevoked, Time: s.cfg.Now(),
			Actor: c.rec.ID, KeyID: c.rec.ID, TokenID: claims.ID, Subject: claims.Subject,
			Account: claims.Account, Mode: claims.Mode})
	}
	return nil
}

// introspection is RFC 7662 §2.2.
type introspection struct {
	Active      bool     `json:"active"`
	Scope       string   `json:"scope,omitempty"`
	ClientID    string   `json:"client_id,omitempty"`
	TokenType   string   `json:"token_type,omitempty"`
	Exp         int64    `json:"exp,omitempty"`
	Iat         int64    `json:"iat,omitempty"`
	Sub         string   `json:"sub,omitempty"`
	Aud         []string `json:"aud,omitempty"`
	Iss         string   `json:"iss,omitempty"`
	Jti         string   `json:"jti,omitempty"`
	Account     string   `json:"kg_account,omitempty"`
	Mode        string   `json:"kg_mode,omitempty"`
	Package     string   `json:"kg_package,omitempty"`
	Permissions []string `json:"kg_permissions,omitempty"`
	Stores      []string `json:"kg_stores,omitempty"`
}

// IntrospectionHandler serves RFC 7662 token introspection (POST
// /oauth/introspect) for confidential clients (resource servers). Access
// and refresh tokens of the caller's own account are described; a token of
// another account, anything else, or a token that fails any check, is
// {"active": false}.
func (s *Server) IntrospectionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := s.introspect(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

func (s *Server) introspect(w http.ResponseWriter, r *http.Request) (introspection, error) {
	if err := s.guarded(r); err != nil {
		return introspection{}, err
	}
	form, err := readForm(w, r)
	if err != nil {
		return introspection{}, err
	}
	c, err := s.client(r, form)
	if err != nil {
		return introspection{}, err
	}
	if err := s.checkOrigin(r, &c); err != nil {
		return introspection{}, err
	}
	if !c.confidential {
		return introspection{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "only confidential clients may introspect"}
	}
	token := form.Get("token")
	if token == "" {
		return introspection{}, invalidRequest("token is required")
	}
	if strings.HasPrefix(token, jwt.RefreshTokenPrefix) {
		return s.introspectRefresh(r.Context(), c, token)
	}
	claims, err := s.cfg.Verifier.Verify(r.Context(), token)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenInvalid) {
			return introspection{Active: false}, nil
		}
		return introspection{}, err
	}
	// The middleware's rule: a token is only as good as its client key.
	key, err := middleware.CheckTokenClient(r.Context(), middleware.ClientKeysFunc(s.cfg.Clients.Get), claims, s.cfg.Now())
	if err != nil {
		if errors.Is(err, middleware.ErrClientInvalid) {
			return introspection{Active: false}, nil
		}
		return introspection{}, err
	}
	if claims.Account != c.rec.Account || claims.Mode != c.rec.Mode {
		// RFC 7662 §2.2: a token the caller may not know about is inactive
		// to it. A resource server sees only its own account's tokens, of
		// its own mode.
		return introspection{Active: false}, nil
	}
	if c.account.CutOff(claims.IssuedAt) {
		return introspection{Active: false}, nil // issued before its account was disabled
	}
	// What the token holds now, as the middleware would take it: narrowed
	// to its key, with its account's current package.
	perms, err := s.guard.NarrowToKey(claims.Permissions, key.Permissions)
	if err != nil {
		return introspection{Active: false}, nil
	}
	scope := claims.Scope
	if len(perms) != len(claims.Permissions) {
		scope = strings.Join(perms, " ")
	}
	pkg, err := s.currentPackage(r.Context(), claims.Account, key.Package)
	if err != nil {
		return introspection{}, err
	}
	return introspection{
		Active: true, Scope: scope, ClientID: claims.ClientID, TokenType: "Bearer",
		Exp: claims.ExpiresAt.Unix(), Iat: claims.IssuedAt.Unix(), Sub: claims.Subject, Aud: claims.Audience,
		Iss: claims.Issuer, Jti: claims.ID, Account: claims.Account, Mode: string(claims.Mode),
		Package: pkg, Permissions: perms, Stores: intersect(claims.Stores, key.Stores),
	}, nil
}

// introspectRefresh describes a refresh token of the caller's account.
func (s *Server) introspectRefresh(ctx context.Context, c client, token string) (introspection, error) {
	if s.cfg.Refresh == nil {
		return introspection{Active: false}, nil
	}
	rec, err := s.cfg.Refresh.Lookup(ctx, token)
	if errors.Is(err, jwt.ErrRefreshInvalid) {
		return introspection{Active: false}, nil
	}
	if err != nil {
		return introspection{}, err
	}
	if rec.Account != c.rec.Account || rec.Mode != c.rec.Mode || !rec.Active(s.cfg.Now()) || c.account.CutOff(rec.IssuedAt) {
		return introspection{Active: false}, nil
	}
	if _, err := middleware.CheckTokenClient(ctx, middleware.ClientKeysFunc(s.cfg.Clients.Get), jwt.Claims{ClientID: rec.ClientID, IssuedAt: rec.IssuedAt}, s.cfg.Now()); err != nil {
		if errors.Is(err, middleware.ErrClientInvalid) {
			return introspection{Active: false}, nil
		}
		return introspection{}, err
	}
	return introspection{
		Active: true, Scope: rec.Scope, ClientID: rec.ClientID, TokenType: "refresh_token",
		Exp: rec.IdleExpiresAt.Unix(), Iat: rec.IssuedAt.Unix(), Sub: rec.Subject,
		Account: rec.Account, Mode: string(rec.Mode), Package: rec.Package, Permissions: rec.Permissions, Stores: rec.Stores,
	}, nil
}
