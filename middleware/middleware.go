// Package middleware composes keygate's mechanisms into net/http middleware:
// it authenticates each request, applies the route's rules, and hands the
// [keygate.Principal] to the wrapped handler through the request context.
//
// Every middleware has the standard shape func(http.Handler) http.Handler,
// so it works with [net/http.ServeMux], chi and any router built on
// net/http:
//
//	auth, err := middleware.New(middleware.Config{APIKeys: keys})
//	...
//	mux.Handle("POST /v1/orders", auth.Handler(orders))  // secret keys
//	mux.Handle("GET /v1/products", auth.Require(middleware.Rule{Publishable: true})(products))
//	mux.Handle("POST /v1/payouts", auth.Require(middleware.Rule{Mode: keygate.ModeLive})(payouts))
//
// Failures are answered in the style of RFC 6750: 401 with a
// WWW-Authenticate challenge for missing or invalid credentials, 403
// insufficient_scope for a credential that may not use the route, 400
// invalid_request for a malformed request, and 503 when the credential
// store cannot be reached (fail closed). The body is always JSON
// {"error": "...", "error_description": "..."}. See [Classify].
package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
)

// KeyVerifier verifies API keys. [*apikey.Manager] implements it.
type KeyVerifier interface {
	// Verify returns the record of a valid key, or an error that wraps one
	// of package apikey's sentinel errors (or a store error). The record's
	// slices may be shared: the Authenticator copies them.
	Verify(ctx context.Context, key string) (apikey.Record, error)
}

// TokenVerifier verifies access tokens (JWTs). [*jwt.Verifier] implements
// it.
type TokenVerifier interface {
	// Verify returns the claims of a valid access token, or an error that
	// wraps one of package jwt's sentinel errors (or a store error). The
	// claims' slices may be shared: the Authenticator copies them.
	Verify(ctx context.Context, token string) (jwt.Claims, error)
}

// OneTimeRedeemer consumes one-time tokens. [*jwt.OneTimeTokens]
// implements it.
type OneTimeRedeemer interface {
	// Redeem consumes token for the request u describes and returns who
	// obtained it, or an error wrapping [jwt.ErrOneTimeInvalid] (or a store
	// error).
	Redeem(ctx context.Context, token string, u jwt.Use) (jwt.OneTimeRecord, error)
}

// RequestVerifier verifies signed requests (HMAC, RFC 9421 profile v3).
// [*httpsig.Verifier] implements it.
type RequestVerifier interface {
	// Verify checks r's signature, leaves the verified body in r.Body and
	// returns the credential, or an error wrapping one of package httpsig's
	// sentinel errors (or a store error). The credential's slices may be
	// shared: the Authenticator copies them.
	Verify(r *http.Request) (httpsig.Active, error)
	// RequiresHeader reports whether Verify refuses a request whose
	// signature does not cover the header name (case-insensitive). [New]
	// refuses a verifier that does not require [Config.StoreHeader]:
	// otherwise an unsigned header could switch the store of a signed
	// request.
	RequiresHeader(name string) bool
}

// Config configures an [Authenticator]. At least one of APIKeys, Tokens
// and Signatures is required. An interface field (here, in
// [AccessConfig] or in [AuditConfig]) that holds a nil pointer counts as
// nil.
type Config struct {
	// APIKeys verifies API keys presented as Authorization: Bearer <key>.
	APIKeys KeyVerifier
	// Tokens verifies access tokens presented as Authorization: Bearer
	// <jwt>. A bearer credential with two dots is taken for a token, any
	// other for an API key.
	Tokens TokenVerifier
	// OneTime redeems one-time tokens on the routes whose [Rule] names a
	// OneTime purpose. Nil means no route accepts them.
	OneTime OneTimeRedeemer
	// ClientKeys finds the API key that obtained an access token or a
	// one-time token. When set, a token is refused (401 invalid_token,
	// [ErrClientInvalid]) once its key is revoked, disabled, expired or
	// rotated without grace (see [CheckTokenClient]), and an access token
	// never carries more than its key holds now: its permissions and
	// stores are narrowed to the key's and the key's origin rules apply
	// too. Nil means tokens are trusted for their whole lifetime.
	ClientKeys ClientKeys
	// ClientCredentials finds the HMAC credential that obtained a
	// one-time token; when set, the token is refused once the credential
	// is no longer usable or has cut it off (rotated without grace,
	// disabled even if enabled again: see [httpsig.Credential.CutOff]).
	ClientCredentials ClientCredentials
	// Access configures client IPs, IP and country rules, packages and
	// rate limits.
	Access AccessConfig
	// Audit configures the request events of [Authenticator.Audit].
	Audit AuditConfig
	// Signatures verifies HMAC-signed requests: a request with
	// Signature-Input or Signature headers is checked only as a signed
	// request, and must not also carry an Authorization header.
	Signatures RequestVerifier
	// KeyPrefix is the prefix of the API keys, used to refuse keys that
	// appear in a URL query. Empty means the verifier's own (its Prefix
	// method, as [*apikey.Manager] has), else [apikey.DefaultPrefix].
	KeyPrefix string
	// Realm is the realm of the WWW-Authenticate challenge. Empty means
	// "keygate".
	Realm string
	// StoreHeader names the header that selects one of the credential's
	// stores. Empty means "X-Store-Id".
	StoreHeader string
	// ErrorHandler writes failures. Nil means the RFC 6750 JSON response of
	// [Failure.Write].
	ErrorHandler ErrorHandler
	// Now is the clock of every time the Authenticator reads: the audit
	// event's time and latency, the failed-authentication window and the
	// usability of the key or credential behind a token. Nil means
	// time.Now.
	Now func() time.Time
	// Accounts, when set, looks up the caller's account on every request,
	// after its credential is authenticated: the credentials of a
	// disabled or unknown account are refused (401 invalid_token), and
	// the Principal's Package is the account's current package, so that
	// disabling an account or changing its package applies to every key,
	// signed request and token of it on the next request. The access and
	// one-time tokens issued at or before the account's cut-off (its last
	// disable, see [account.Account.CutOff]) stay refused once it is
	// enabled again. A lookup that fails answers 503. [*account.Manager] implements it; put an
	// [account.CachedStore] in front of a slow store. Nil means no lookup:
	// the package is the one the credential carries.
	Accounts account.Lookup
	// HTTPSOnly refuses every request that carries a credential over
	// plain HTTP (see [Authenticator.CheckTransport]: not TLS, and not
	// from a trusted proxy of Access.ClientIP that says https) with 400
	// invalid_request, "HTTPS is required" ([ErrInsecureTransport]),
	// before the credential is looked at.
	HTTPSOnly bool
}

// MaxAuthorizationLen is the longest Authorization header the
// Authenticator reads; a longer one is refused before any parsing.
const MaxAuthorizationLen = 8 << 10

// Rule states what a route requires of its caller. The zero Rule admits
// any valid secret key, test or live.
type Rule struct {
	// Publishable admits publishable keys as well as secret ones. Routes
	// must opt in: publishable keys are meant for client code.
	Publishable bool
	// Mode, when set, admits only credentials of that mode.
	Mode keygate.Mode
	// OneTime, when set, makes this the route of that one-time token
	// purpose (such as "checkout:confirm"): it accepts only a one-time
	// token of the purpose, redeemed (and so used up) with the request's
	// method, path, entity and body, and no other credential. Every route
	// without it refuses one-time tokens.
	OneTime string
	// EntityPathValue names the path value (r.PathValue) that holds the
	// entity ID a one-time token may be bound to, and that a Permission's
	// "{entity}" part is checked against (by default: the selected store).
	EntityPathValue string
	// Permission, such as "offers:write" or "stores:read:{entity}", must
	// be granted to the credential (package access).
	Permission string
	// Package, such as "GO", is the minimum package the route requires:
	// the credential's package must reach it in AccessConfig.Packages.
	Package string
}

// MaxOneTimeBody bounds the request body read to check a one-time token's
// body binding.
const MaxOneTimeBody = 1 << 20

// Authenticator checks credentials and route rules. Create it with [New];
// it is safe for concurrent use.
type Authenticator struct {
	keys KeyVerifier
	// keyManager is keys when it is an [*apikey.Manager], whose
	// VerifyGrant does not copy the record: the request path then copies
	// only the stores the Principal keeps. (A concrete type, so that the
	// grant it fills stays on the stack.)
	keyManager *apikey.Manager
	tokens     TokenVerifier
	oneTime    OneTimeRedeemer
	signatures RequestVerifier
	// sigVerifier is signatures when it is an [*httpsig.Verifier], whose
	// VerifyLent neither copies the grant nor allocates the body's buffer:
	// Require then releases the body when its handler has returned.
	sigVerifier *httpsig.Verifier
	accounts    account.Lookup
	clientKeys  ClientKeys
	clientCreds ClientCredentials
	access      *accessState
	transport   transportCheck
	auditCfg    AuditConfig
	realm       string
	storeHeader string // canonical form
	onError     ErrorHandler
	// queryNeedles are the key beginnings that mark a URL query as
	// carrying a key, such as "bk_test_sk_".
	queryNeedles []string
	now          func() time.Time
	systemClock  bool // Config.Now was nil: now is time.Now, whose readings carry the monotonic clock
}

// New returns an Authenticator for cfg.
func New(cfg Config) (*Authenticator, error) {
	cfg = withoutTypedNils(cfg)
	if cfg.APIKeys == nil && cfg.Tokens == nil && cfg.Signatures == nil {
		return nil, fmt.Errorf("middleware: Config.APIKeys, Tokens or Signatures is required")
	}
	a := &Authenticator{keys: cfg.APIKeys, tokens: cfg.Tokens, oneTime: cfg.OneTime, signatures: cfg.Signatures, accounts: cfg.Accounts, realm: cfg.Realm, onError: cfg.ErrorHandler}
	a.clientKeys, a.clientCreds = cfg.ClientKeys, cfg.ClientCredentials
	a.keyManager, _ = cfg.APIKeys.(*apikey.Manager)
	a.sigVerifier, _ = cfg.Signatures.(*httpsig.Verifier)
	a.now = cfg.Now
	if a.now == nil {
		a.now, a.systemClock = time.Now, true
	}
	var err error
	if a.access, err = newAccessState(cfg.Access, a.now); err != nil {
		return nil, err
	}
	a.transport = newTransportCheck(cfg)
	a.auditCfg = cfg.Audit
	if a.realm == "" {
		a.realm = "keygate"
	}
	for i := 0; i < len(a.realm); i++ {
		if c := a.realm[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return nil, fmt.Errorf("middleware: Config.Realm must be printable ASCII without quotes or backslashes")
		}
	}
	a.storeHeader = "X-Store-Id"
	if cfg.StoreHeader != "" {
		a.storeHeader = textproto.CanonicalMIMEHeaderKey(cfg.StoreHeader)
	}
	// A signed request's store header must be signed: otherwise an
	// unsigned one could switch the store of a signed request.
	if cfg.Signatures != nil && !cfg.Signatures.RequiresHeader(a.storeHeader) {
		return nil, fmt.Errorf("middleware: the store header %s must be among httpsig.VerifierConfig.RequiredHeaders", a.storeHeader)
	}
	if a.onError == nil {
		a.onError = func(w http.ResponseWriter, _ *http.Request, err error) { Classify(err).Write(w, a.realm) }
	}
	prefix := cfg.KeyPrefix
	if p, ok := cfg.APIKeys.(interface{ Prefix() string }); ok && prefix == "" {
		prefix = p.Prefix()
	}
	if prefix == "" {
		prefix = apikey.DefaultPrefix
	}
	for _, mode := range []keygate.Mode{keygate.ModeTest, keygate.ModeLive} {
		for _, kind := range []keygate.Kind{keygate.KindPublishable, keygate.KindSecret} {
			a.queryNeedles = append(a.queryNeedles, prefix+"_"+string(mode)+"_"+string(kind)+"_")
		}
	}
	if a.auditCfg.Redactor == nil {
		// Scrub this Authenticator's keys and tokens from every free-text
		// field, wherever a client put them.
		a.auditCfg.Redactor = audit.NewRedactor(audit.RedactorConfig{
			SecretPrefixes: append(slices.Clone(a.queryNeedles), jwt.RefreshTokenPrefix, jwt.OneTimeTokenPrefix),
		})
	}
	return a, nil
}

// Handler authenticates requests with the zero [Rule] (secret keys of
// either mode) before calling next. It has the standard middleware shape.
func (a *Authenticator) Handler(next http.Handler) http.Handler {
	return a.Require(Rule{})(next)
}

// Require returns middleware that authenticates each request and checks it
// against rule. On success next gets the [keygate.Principal] in the request
// context; on failure the error handler answers and next is not called.
//
// Beside Check's work, it bounds failed authentications per client IP
// (429 once over) and applies the caller's rate limit (429 with
// Retry-After once over; the RateLimit headers on every limited response).
// A rule that cannot be compiled (an unknown package, a malformed
// permission) makes Require panic: it is a programming error, found at
// start-up.
//
// When auditing is configured ([AuditConfig]) and the request is not
// already inside [Authenticator.Audit], Require audits it itself, so that
// Audit(Require(rule)(h)) and Require(rule)(Audit(h)) record the same
// single event, and a route behind Require alone is audited too.
//
// With an [*httpsig.Verifier] as Config.Signatures, a signed request's body
// is the verified bytes in a buffer lent for the request
// ([httpsig.Verifier.VerifyLent]): next and the error handler read it as
// usual, and once they have returned the buffer goes back to a pool and
// the body's reads fail, as net/http's Handler contract has it (a reader
// left behind never gets another request's bytes). That includes a
// middleware outside Require that reads the request's body after Require
// has returned: read it before, or use [Authenticator.Check].
func (a *Authenticator) Require(rule Rule) func(http.Handler) http.Handler {
	c, err := a.compile(rule)
	if err != nil {
		panic(err)
	}
	return func(next http.Handler) http.Handler {
		return a.auditOutside(func(w http.ResponseWriter, r *http.Request, st *auditState) {
			ip, known := a.access.clientIP(r)
			if err := a.checkTransport(r); err != nil {
				a.refuseEarly(w, r, st, ip, err)
				return
			}
			if wait, blocked, err := a.access.blocked(r, ip, known); blocked {
				if err == nil {
					w.Header().Set("Retry-After", retryAfterSeconds(wait))
					err = errTooManyFails
				}
				a.refuseEarly(w, r, st, ip, err)
				return
			}
			var p keygate.Principal
			var lent io.ReadCloser // a signed request's body, lent until next returns
			country, err := a.check(r, &c, ip, known, &p, &lent)
			// check names the caller once its credential verified, also
			// when a later step refused it: for the audit event only, as
			// next is never called on an error.
			authed := p.Method != ""
			var authedReq *http.Request
			if err == nil {
				authedReq = withPrincipal(r, st, &p)
				if a.access.cfg.RateLimit != nil {
					err = a.rateLimitAuthed(w, r, authedReq, &p)
				}
			}
			if err != nil && known {
				p.ClientIP = ip
			}
			if a.auditing() {
				recordOutcome(st, r, &p, authed, country, err)
			}
			if err != nil {
				if a.access.failures != nil && countsAsFailure(err) {
					a.access.failed(r.Context(), a.access.failureKey(r, ip, known))
				}
				a.onError(w, r, err)
				httpsig.ReleaseBody(lent)
				return
			}
			next.ServeHTTP(w, authedReq)
			httpsig.ReleaseBody(lent)
		})
	}
}

// refuseEarly refuses r, from a client at ip, before its credential is
// checked (its transport, or its client's failures): it records the
// outcome for the audit and answers with err. Not inlined, so that its
// Principal stays out of the stack frame of Require's handler (see
// authenticateToken).
//
//go:noinline
func (a *Authenticator) refuseEarly(w http.ResponseWriter, r *http.Request, st *auditState, ip netip.Addr, err error) {
	if a.auditing() {
		recordOutcome(st, r, &keygate.Principal{ClientIP: ip}, false, "", err)
	}
	a.onError(w, r, err)
}

// withPrincipal returns the request that Require hands next: r with p in
// its context and, when Require audits r itself (st not nil), the audit
// state's context beneath, which an Audit or RefuseRequest inside finds.
// Not inlined, so that the copy of r on its stack stays out of the stack
// frame of Require's handler (see authenticateToken).
//
//go:noinline
func withPrincipal(r *http.Request, st *auditState, p *keygate.Principal) *http.Request {
	if st == nil {
		return keygate.WithPrincipal(r, *p)
	}
	return keygate.WithPrincipal(r.WithContext(st), *p) // WithContext's copy on the stack
}

// rateLimitAuthed applies AccessConfig.RateLimit to the caller of
// authedReq, next's request, and leaves in p the Principal it got. The
// Principal's stores may still be the verifier's (see setGrant): the
// rate limit gets, as the handler does, the context's copy. Nothing else
// after this point reads the stores (the audit event names only the
// selected store), so without a RateLimit the copy is not read back. Not
// inlined, for the reason withPrincipal is not.
//
//go:noinline
func (a *Authenticator) rateLimitAuthed(w http.ResponseWriter, r, authedReq *http.Request, p *keygate.Principal) error {
	*p, _ = keygate.FromContext(authedReq.Context())
	return a.access.rateLimit(r.Context(), w, p)
}

// Check authenticates r and checks it against rule, without writing
// anything: for callers that are not middleware chains. It returns the
// Principal, with a copy of its stores of its own, or an error to map
// with [Classify].
//
// Check resolves the client IP and applies Config.HTTPSOnly and the IP,
// country, package and permission rules, but neither counts failures nor
// applies rate limits (see [Authenticator.Require]).
func (a *Authenticator) Check(r *http.Request, rule Rule) (keygate.Principal, error) {
	if a.access == nil {
		return keygate.Principal{}, errNotConfigured // a zero Authenticator fails closed
	}
	if err := a.checkTransport(r); err != nil {
		return keygate.Principal{}, err
	}
	c, err := a.compile(rule)
	if err != nil {
		return keygate.Principal{}, fmt.Errorf("%w: %w", ErrInsufficientScope, err) // a misconfigured rule admits nobody
	}
	ip, known := a.access.clientIP(r)
	var p keygate.Principal
	if _, err := a.check(r, &c, ip, known, &p, nil); err != nil {
		return keygate.Principal{}, err // the refused caller is only for Require's audit event
	}
	p.Stores = slices.Clone(p.Stores) // the caller's own (see setGrant)
	return p, nil
}

// check is Check with the rule compiled and the client IP resolved: it
// writes the caller into p. It also returns the client's country when a
// country rule looked it up (for the audit event), whatever the outcome.
//
// When the credential verified but a later step refused the request (the
// route's kind, mode or store, the IP, country, package or permission
// rules), check leaves in p the caller's public identifiers (see
// setRefusedCaller), so that the refusal's audit event names who was
// refused; before the credential verified, it leaves the zero Principal.
// On an error p is for the audit event only, never for a handler.
//
// With lent not nil, a signed request's body may be lent (see
// [httpsig.Verifier.VerifyLent]): check then sets *lent to the body, for
// the caller to release, also on an error.
func (a *Authenticator) check(r *http.Request, c *compiledRule, ip netip.Addr, known bool, p *keygate.Principal, lent *io.ReadCloser) (country string, err error) {
	if a.keys == nil && a.tokens == nil && a.signatures == nil {
		*p = keygate.Principal{}
		return "", errNotConfigured // a zero Authenticator fails closed
	}
	if r.URL != nil {
		if err := a.refuseQueryCredentials(r.URL.RawQuery); err != nil {
			*p = keygate.Principal{}
			return "", err
		}
	}
	var (
		g      keygate.Grant // the credential's, for its origin rules
		issued time.Time     // a token's issue time, for its account's cut-off
	)
	if len(r.Header["Signature-Input"]) > 0 || len(r.Header["Signature"]) > 0 {
		err = a.verifySigned(r, c.Rule, p, &g, lent)
	} else {
		issued, err = a.authenticateBearer(r, &c.Rule, p, &g)
	}
	if err != nil {
		*p = keygate.Principal{}
		return "", err
	}
	// Until the rule is applied, a refusal names the caller as its
	// credential does: with the credential's package, not its account's.
	credentialPackage := p.Package
	if err = a.checkAccount(r.Context(), p, issued); err != nil {
		a.setRefusedCaller(r, p)
		return "", err
	}
	if err = a.applyRule(r, &c.Rule, p); err != nil {
		p.Package = credentialPackage
		a.setRefusedCaller(r, p)
		return "", err
	}
	if known {
		p.ClientIP = ip
	}
	kr := a.access.rulesFor(p, &g)
	if country, err = a.access.checkOriginAndIPRules(r.Context(), p.Account, kr, ip, known); err != nil {
		a.setRefusedCaller(r, p)
		return country, err
	}
	p.Permissions = kr.effective // what the credential holds with its package
	if err := c.checkRequirement(r, p, kr); err != nil {
		a.setRefusedCaller(r, p)
		return country, err
	}
	return country, nil
}

// setRefusedCaller sets p to who was refused, for the audit event of a
// request whose credential verified (p) but that a later step refused:
// the method, key,
// token, subject, account, mode, kind and package, and the store the
// request selected (when the credential may not use it, the store it
// asked for), without the permissions or stores the credential holds. A
// credential keygate cannot interpret (an invalid mode or key kind) is no
// caller: the zero Principal. Not inlined, so that its Principal stays out of check's stack frame on the
// path of every request (see authenticateToken).
//
//go:noinline
func (a *Authenticator) setRefusedCaller(r *http.Request, p *keygate.Principal) {
	if p.Method == "" || !p.Mode.Valid() || p.Method == keygate.MethodAPIKey && !p.Kind.Valid() {
		*p = keygate.Principal{}
		return
	}
	who := keygate.Principal{
		Method: p.Method, KeyID: p.KeyID, TokenID: p.TokenID, Subject: p.Subject,
		Account: p.Account, Mode: p.Mode, Kind: p.Kind, Package: p.Package, Store: p.Store,
	}
	if who.Store == "" && p.Method != keygate.MethodOneTime {
		// Refused before the store was selected (or by the selection).
		store, err := a.selectStore(r.Header, p.Stores)
		switch {
		case err == nil:
			who.Store = store
		case errors.Is(err, errStoreForbidden):
			who.Store = r.Header.Get(a.storeHeader) // a valid store ID, not one of the credential's
		}
	}
	*p = who
}

// authenticateBearer checks the Authorization: Bearer credential and
// writes the caller into p and its credential's grant into g (which it
// expects zero). For a token (access or one-time) it also returns when
// the token was issued; for an API key, the zero time. On an error p and
// g may hold anything.
func (a *Authenticator) authenticateBearer(r *http.Request, rule *Rule, p *keygate.Principal, g *keygate.Grant) (time.Time, error) {
	token, err := bearerToken(r.Header)
	if err != nil {
		return time.Time{}, err
	}
	if rule.OneTime != "" {
		return a.redeem(r, token, rule, p)
	}
	return a.authenticate(r.Context(), token, p, g)
}

// verifySigned checks an HMAC-signed request and writes the caller into
// p and its credential's grant into g (in place: both are large), as
// authenticateBearer does. With lent not nil, it may lend the body, as
// check does.
func (a *Authenticator) verifySigned(r *http.Request, rule Rule, p *keygate.Principal, g *keygate.Grant, lent *io.ReadCloser) error {
	switch {
	case a.signatures == nil:
		return errSignaturesOff
	case len(r.Header["Authorization"]) > 0:
		return errTwoCredentials
	case rule.OneTime != "":
		return errOneTimeRequired
	}
	var keyID string
	var err error
	if lent != nil && a.sigVerifier != nil {
		// The grant's slices stay the Manager's until the Principal
		// leaves the middleware, as an API key's (see setGrant); the
		// verifier writes the grant into g itself.
		keyID, *lent, err = a.sigVerifier.VerifyLentGrant(r, g)
	} else {
		var c httpsig.Active
		c, err = a.signatures.Verify(r)
		keyID, *g = c.KeyID, c.Grant
	}
	if err != nil {
		return err
	}
	*p = keygate.Principal{Method: keygate.MethodHMAC, KeyID: keyID, Kind: keygate.KindSecret}
	setGrant(p, g)
	return nil
}

// setGrant is the one way a verifier's result (an API key's record, an
// access token's claims, a signed request's credential) becomes the
// request's Principal: p identifies the caller (its method, key ID,
// kind and, for a token, the token's ID, subject and scope), and setGrant
// sets its account, mode, package, permissions and stores from the
// credential's grant g. The grant's origin rules are for [Authenticator.CheckOrigin]'s
// check (rulesFor, parseOrigin).
//
// The verifier's slices may be shared with its store or cache. The
// Principal's stores are copied where it leaves the middleware
// ([keygate.WithPrincipal] copies them into the request's context, whose
// copy AccessConfig.RateLimit and the handler get; [Authenticator.Check]
// clones them), which is enough since nothing of keygate's in between
// writes them. The permissions are not copied: they are read (never
// written) until [Authenticator.check] replaces them with the effective
// list of the access layer, so that no Principal handed to a handler, nor
// any refused caller, holds the verifier's list.
func setGrant(p *keygate.Principal, g *keygate.Grant) {
	p.Account, p.Mode, p.Package = g.Account, g.Mode, g.Package
	p.Permissions, p.Stores = g.Permissions, g.Stores
}

// applyRule checks an authenticated Principal against the route's rule and
// selects its store.
// On an error p is unchanged.
func (a *Authenticator) applyRule(r *http.Request, rule *Rule, p *keygate.Principal) error {
	switch {
	case !p.Mode.Valid():
		return ErrInvalidToken // a credential keygate cannot interpret
	case p.Method == keygate.MethodAPIKey && !p.Kind.Valid():
		return ErrInvalidToken
	case p.Method != keygate.MethodOneTime && p.Kind != keygate.KindSecret && !rule.Publishable:
		// A publishable key, or a token obtained through a public client
		// (or one that does not say), reaches only routes that opt in.
		return errPublishable
	case rule.Mode == keygate.ModeLive && p.Mode != keygate.ModeLive:
		return errLiveRequired
	case rule.Mode == keygate.ModeTest && p.Mode != keygate.ModeTest:
		return errTestRequired
	case rule.Mode != "" && !rule.Mode.Valid():
		return ErrInsufficientScope // a misconfigured rule admits nobody
	}
	if p.Method == keygate.MethodOneTime {
		return nil // a one-time token acts for its account, without stores
	}
	store, err := a.selectStore(r.Header, p.Stores)
	if err != nil {
		return err
	}
	p.Store = store
	return nil
}

// redeem consumes the one-time token of a one-time route and writes its
// caller into p. It returns when the token was issued. Not inlined, so
// that its locals stay out of the stack frame of every bearer request
// (see authenticateToken).
//
//go:noinline
func (a *Authenticator) redeem(r *http.Request, token string, rule *Rule, p *keygate.Principal) (time.Time, error) {
	if a.oneTime == nil || !strings.HasPrefix(token, jwt.OneTimeTokenPrefix) {
		return time.Time{}, errOneTimeRequired
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxOneTimeBody+1))
		r.Body.Close()
		if err != nil {
			return time.Time{}, errBodyUnreadable
		}
		if len(body) > MaxOneTimeBody {
			return time.Time{}, errBodyTooLarge
		}
		r.Body = io.NopCloser(bytes.NewReader(body)) // the handler reads it again
	}
	use := jwt.Use{Purpose: rule.OneTime, Method: r.Method, Body: body}
	if r.URL != nil {
		use.Path = r.URL.Path
	}
	if rule.EntityPathValue != "" {
		use.EntityID = r.PathValue(rule.EntityPathValue)
	}
	rec, err := a.oneTime.Redeem(r.Context(), token, use)
	if err != nil {
		return time.Time{}, err
	}
	if err := a.checkOneTimeClient(r.Context(), rec); err != nil {
		return time.Time{}, err
	}
	*p = keygate.Principal{Method: keygate.MethodOneTime, KeyID: rec.KeyID, Subject: rec.Subject, Account: rec.Account, Mode: rec.Mode}
	return rec.IssuedAt, nil
}

// authenticate verifies a bearer credential: an access token if it has the
// two dots of a compact JWS and tokens are configured, else an API key.
// It writes the caller into p and its credential's grant into g (which
// it expects zero). For an access token it also returns its issue time
// (iat); for an API key, the zero time. On an error p and g may hold
// anything.
func (a *Authenticator) authenticate(ctx context.Context, token string, p *keygate.Principal, g *keygate.Grant) (time.Time, error) {
	if strings.HasPrefix(token, jwt.OneTimeTokenPrefix) {
		return time.Time{}, errOneTimeElsewhere
	}
	if a.tokens != nil && strings.Count(token, ".") == 2 {
		return a.authenticateToken(ctx, token, p, g)
	}
	switch {
	case a.keyManager != nil:
		id, kind, err := a.keyManager.VerifyGrant(ctx, token, g)
		if err != nil {
			return time.Time{}, err
		}
		p.Method, p.KeyID, p.Kind = keygate.MethodAPIKey, id, kind
		// The stores stay the store's until the Principal leaves the
		// middleware: keygate.WithPrincipal and Check copy them (see
		// setGrant).
		setGrant(p, g)
		return time.Time{}, nil
	case a.keys != nil:
		return time.Time{}, a.authenticateKey(ctx, token, p, g)
	}
	return time.Time{}, ErrInvalidToken
}

// authenticateToken is authenticate for an access token. It is a function
// of its own, never inlined, and so are the functions it calls and
// authenticateKey, so that their large locals (the claims, the client
// key's record, a Record returned by value) are not in authenticate's
// stack frame, which the API key path of every request would then take,
// nor on the stack all at once: a server's goroutines would outgrow their
// stacks on each request after a garbage collection had shrunk them
// (copying the whole stack each time).
//
//go:noinline
func (a *Authenticator) authenticateToken(ctx context.Context, token string, p *keygate.Principal, g *keygate.Grant) (time.Time, error) {
	clientID, issued, err := a.verifyToken(ctx, token, p, g)
	if err != nil {
		return time.Time{}, err
	}
	if a.clientKeys != nil {
		if err := a.checkClientKey(ctx, clientID, issued, p, g); err != nil {
			return time.Time{}, err
		}
	}
	return issued, nil
}

// verifyToken verifies an access token and writes its caller into p and
// its grant into g. It returns the token's client ID and issue time.
//
//go:noinline
func (a *Authenticator) verifyToken(ctx context.Context, token string, p *keygate.Principal, g *keygate.Grant) (clientID string, issued time.Time, err error) {
	c, err := a.tokens.Verify(ctx, token)
	if err != nil {
		return "", time.Time{}, err
	}
	// As for API keys, the stores are copied where the Principal leaves
	// the middleware.
	*p = keygate.Principal{} // field by field below: no Principal on this frame
	p.Method, p.KeyID, p.TokenID = keygate.MethodJWT, c.ClientID, c.ID
	p.Subject, p.Scope, p.Kind = c.Subject, c.Scope, c.ClientKind
	setGrant(p, &c.Grant)
	*g = c.Grant
	return c.ClientID, c.IssuedAt, nil
}

// checkClientKey checks that the API key clientID that obtained an access
// token issued at issued is still usable and narrows p and g to what it
// holds now (see checkTokenClient and narrowToClient).
//
//go:noinline
func (a *Authenticator) checkClientKey(ctx context.Context, clientID string, issued time.Time, p *keygate.Principal, g *keygate.Grant) error {
	var rec apikey.Record
	if err := checkTokenClient(ctx, a.clientKeys, clientID, issued, a.now(), &rec); err != nil {
		return err
	}
	return a.narrowToClient(p, g, &rec)
}

// authenticateKey is authenticate for an API key verified through a
// KeyVerifier other than an *apikey.Manager (see authenticateToken for
// why it is a function of its own).
//
//go:noinline
func (a *Authenticator) authenticateKey(ctx context.Context, token string, p *keygate.Principal, g *keygate.Grant) error {
	rec, err := a.keys.Verify(ctx, token)
	if err != nil {
		return err
	}
	*p = keygate.Principal{Method: keygate.MethodAPIKey, KeyID: rec.ID, Kind: rec.Kind}
	setGrant(p, &rec.Grant)
	*g = rec.Grant
	return nil
}

// bearerToken extracts the token of an RFC 6750 "Authorization: Bearer"
// header: exactly one header, at most MaxAuthorizationLen bytes, the scheme
// case-insensitively, one or more spaces, then the token.
func bearerToken(h http.Header) (string, error) {
	values := h["Authorization"]
	switch len(values) {
	case 0:
		return "", ErrNoCredentials
	case 1:
	default:
		return "", errMultipleAuthorization
	}
	v := values[0]
	if len(v) > MaxAuthorizationLen {
		return "", errAuthorizationTooLarge
	}
	const scheme = "Bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", ErrNoCredentials // another scheme, such as Basic
	}
	rest := v[len(scheme):]
	if rest != "" && rest[0] != ' ' {
		return "", ErrNoCredentials // "Bearerx ..." is another scheme
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" {
		return "", errEmptyBearer
	}
	// The token's own syntax (for an API key: layout, base62, checksum) is
	// checked strictly by its verifier, which refuses anything that is not
	// an RFC 6750 b64token too.
	return token, nil
}

// credentialParams are query parameters that clients use for credentials;
// keygate never reads them, and refuses requests that send them so that
// keys do not end up in access logs and browser histories.
var credentialParams = []string{"access_token", "api_key", "apikey"}

// refuseQueryCredentials reports errCredentialsInQuery if the raw query has
// a credential parameter or a value that looks like an API key, also when
// percent-encoded.
func (a *Authenticator) refuseQueryCredentials(rawQuery string) error {
	if rawQuery == "" {
		return nil
	}
	if strings.IndexByte(rawQuery, '%') >= 0 || strings.IndexByte(rawQuery, '+') >= 0 {
		if unescaped, err := url.QueryUnescape(rawQuery); err == nil {
			// Decoding may turn %26 into a separator; that only makes
			// the check stricter.
			if err := a.scanQuery(unescaped); err != nil {
				return err
			}
		}
	}
	return a.scanQuery(rawQuery)
}

// scanQuery is refuseQueryCredentials on one form of the query.
func (a *Authenticator) scanQuery(query string) error {
	for _, needle := range a.queryNeedles {
		if strings.Contains(query, needle) {
			return errCredentialsInQuery
		}
	}
	for q := query; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		name, _, _ := strings.Cut(pair, "=")
		name = strings.TrimSpace(name)
		for _, p := range credentialParams {
			if strings.EqualFold(name, p) {
				return errCredentialsInQuery
			}
		}
	}
	return nil
}

// selectStore returns the store named by the store header, which must be
// one of stores, or the only store when the header is absent.
func (a *Authenticator) selectStore(h http.Header, stores []string) (string, error) {
	values := h[a.storeHeader]
	switch len(values) {
	case 0:
		if len(stores) == 1 {
			return stores[0], nil
		}
		return "", nil
	case 1:
	default:
		return "", errStoreHeader
	}
	store := values[0]
	if !apikey.ValidStoreID(store) {
		return "", errStoreHeader
	}
	if !slices.Contains(stores, store) {
		return "", errStoreForbidden
	}
	return store, nil
}

// withoutTypedNils returns cfg with every interface field that holds a nil
// pointer (or another nil value) set to nil, so that a nil *T passed for
// an optional verifier, store or Metrics means "none", as nil does,
// rather than a value whose methods panic on the first request.
func withoutTypedNils(cfg Config) Config {
	orNil(&cfg.APIKeys)
	orNil(&cfg.Tokens)
	orNil(&cfg.OneTime)
	orNil(&cfg.ClientKeys)
	orNil(&cfg.ClientCredentials)
	orNil(&cfg.Signatures)
	orNil(&cfg.Accounts)
	orNil(&cfg.Access.Geo)
	orNil(&cfg.Access.Limiter)
	orNil(&cfg.Access.IPRules)
	orNil(&cfg.Audit.Metrics)
	return cfg
}

// orNil sets the interface value *v to nil when it holds a nil pointer,
// map, slice, func or channel.
func orNil[T any](v *T) {
	if any(*v) == nil {
		return
	}
	switch rv := reflect.ValueOf(*v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		if rv.IsNil() {
			var zero T
			*v = zero
		}
	}
}
