// Package keygate holds what every keygate package shares about a caller.
// The [Principal] is the caller identity that an authenticating middleware
// puts in a request's context; [Method], [Mode] and [Kind] are the small
// vocabulary it is made of. The [Grant] is what every credential carries:
// what it is allowed, and where from.
//
// It imports only the standard library, so that the mechanism packages
// (apikey, jwt, httpsig, ipbind, audit) can all depend on it without depending on
// each other. The middleware package composes them; see its documentation for
// wrapping a [net/http.Handler].
//
// A handler behind the middleware reads the caller like this:
//
//	func whoami(w http.ResponseWriter, r *http.Request) {
//		p, ok := keygate.FromContext(r.Context())
//		if !ok {
//			http.Error(w, "unauthenticated", http.StatusUnauthorized)
//			return
//		}
//		fmt.Fprintf(w, "account %s in %s mode\n", p.Account, p.Mode)
//	}
package keygate

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
)

// Method names the mechanism that authenticated a request.
type Method string

// The authentication methods.
const (
	MethodAPIKey Method = "api_key" // an API key in Authorization: Bearer
	MethodJWT    Method = "jwt"     // a signed access token
	MethodHMAC   Method = "hmac"    // an HMAC-signed request
	// MethodOneTime is a one-time token, accepted only by the route of its
	// purpose.
	MethodOneTime Method = "one_time"
	// MethodConsole is a person signed in to the admin console (package
	// console): the caller of the admin actions it takes, never a
	// credential of a request to the service.
	MethodConsole Method = "console"
)

// Mode separates test traffic from live traffic. A credential belongs to
// exactly one mode, and a route that requires one mode never admits the other.
type Mode string

// The modes.
const (
	ModeTest Mode = "test"
	ModeLive Mode = "live"
)

// Valid reports whether m is [ModeTest] or [ModeLive].
func (m Mode) Valid() bool { return m == ModeTest || m == ModeLive }

// Kind tells a publishable key from a secret one, in the style of Stripe.
// A publishable key identifies an account and is safe to embed in client
// code; only routes explicitly marked as publishable accept it. A secret key
// gets the access its settings allow.
type Kind string

// The kinds of credential.
const (
	KindPublishable Kind = "pk"
	KindSecret      Kind = "sk"
)

// Valid reports whether k is [KindPublishable] or [KindSecret].
func (k Kind) Valid() bool { return k == KindPublishable || k == KindSecret }

// Principal is the authenticated caller of one request. The middleware builds
// it once the credential is verified; handlers read it with [FromContext].
//
// Its slices may share memory with the credential store's records: treat them
// as read-only and copy them before modifying.
type Principal struct {
	// Method is the mechanism that authenticated the request.
	Method Method `json:"method"`
	// KeyID is the public identifier of the API key behind the request:
	// the key itself, or for an access token the client's key (the token's
	// client_id), or an HMAC keyid. It is safe to log; it is never the
	// secret.
	KeyID string `json:"key_id"`
	// TokenID is an access token's jti; empty for other methods.
	TokenID string `json:"token_id,omitempty"`
	// Subject is an access token's sub: the account, or the user of a
	// password grant; empty for other methods.
	Subject string `json:"subject,omitempty"`
	// Scope is an access token's space-separated scope.
	Scope string `json:"scope,omitempty"`
	// Account owns the credential.
	Account string `json:"account"`
	// Mode is the credential's mode.
	Mode Mode `json:"mode"`
	// Kind is publishable or secret: the API key's, or for an access
	// token the kind of the client key that obtained it (publishable for a
	// public client). Routes admit publishable credentials only when they
	// opt in.
	Kind Kind `json:"kind"`
	// Package is the account's package (its commercial plan), for
	// example "GO".
	Package string `json:"package,omitempty"`
	// Permissions are the rights granted to the credential. Once the
	// middleware accepted the request, they are its effective permissions
	// with its Package (roles expanded; see access.Packages.Effective):
	// the package's for a credential without permissions of its own, else
	// its own bounded by the package. That list is shared by the
	// credential's requests: read-only.
	Permissions []string `json:"permissions,omitempty"`
	// Stores are the stores the credential may act for.
	Stores []string `json:"stores,omitempty"`
	// ClientIP is the caller's address as resolved by the middleware
	// (through trusted proxies only); the zero Addr when unknown.
	ClientIP netip.Addr `json:"client_ip,omitzero"`
	// Store is the store selected for this request (by the X-Store-Id header,
	// or the credential's only store), or empty when none is selected.
	Store string `json:"store"`
}

// contextKey is unexported so that no other package can read or overwrite
// the Principal by accident.
type contextKey struct{}

// principalContext carries a Principal. It does what context.WithValue
// does, in one allocation instead of two (WithValue would also box the
// Principal), because it is made on every authenticated request; that
// allocation also holds the Principal's own copy of its stores when
// there are at most two of them, as most credentials have. It is the
// full form, for any Principal; an API key's or a signed request's takes
// the smaller compactContext, an access token's with at most one store
// compactTokenContext, and another with one store or none
// principalContext1. Cancellation and deadlines come from the embedded
// parent.
type principalContext struct {
	principalValue
	stores [2]string
}

// principalContext1 is principalContext for a Principal with at most one
// store: 16 bytes smaller, which puts [WithPrincipal]'s allocation in a
// smaller size class (576 bytes rather than 640).
type principalContext1 struct {
	principalValue
	stores [1]string
}

// principalValue is the context of principalContext and
// principalContext1, without the room for the stores.
type principalValue struct {
	context.Context
	p Principal
}

// Value returns a pointer to the Principal for contextKey, and asks the
// parent for every other key.
func (c *principalValue) Value(key any) any {
	if key == (contextKey{}) {
		return &c.p
	}
	return c.Context.Value(key)
}

// NewContext returns a copy of ctx that carries p, with a copy of
// p.Stores of its own: the Principal a handler reads never shares its
// stores with a credential store's records, whatever p shared.
func NewContext(ctx context.Context, p Principal) context.Context {
	switch codes, form := compactForm(&p); form {
	case compactKey:
		c := &compactContext{}
		c.init(ctx, &p, codes, c.stores[:])
		return c
	case compactToken:
		c := &compactTokenContext{}
		c.init(ctx, &p, codes)
		return c
	}
	if len(p.Stores) <= 1 {
		c := &principalContext1{}
		c.init(ctx, p, c.stores[:])
		return c
	}
	c := &principalContext{}
	c.init(ctx, p, c.stores[:])
	return c
}

// init makes c carry p over ctx, with a copy of p.Stores of its own: in
// room when it fits, else in an allocation of its own.
func (c *principalValue) init(ctx context.Context, p Principal, room []string) {
	c.Context, c.p = ctx, p
	switch n := len(p.Stores); {
	case p.Stores == nil:
	case n <= len(room):
		c.p.Stores = room[:n:n]
		copy(c.p.Stores, p.Stores)
	default:
		c.p.Stores = slices.Clone(p.Stores)
	}
}

// principalRequest is [WithPrincipal]'s request and its context, made
// together; principalRequest1 is the same for a Principal with at most
// one store, in a smaller size class.
type (
	principalRequest struct {
		r http.Request
		c principalContext
	}
	principalRequest1 struct {
		r http.Request
		c principalContext1
	}
)

// WithPrincipal returns a shallow copy of r whose context carries p, as
// r.WithContext(NewContext(r.Context(), p)) does, in one allocation
// instead of two: the request of every authenticated request that a
// middleware hands to the next handler.
func WithPrincipal(r *http.Request, p Principal) *http.Request {
	switch codes, form := compactForm(&p); form {
	case compactKey:
		return withCompact(r, &p, codes)
	case compactToken:
		return withCompactToken(r, &p, codes)
	}
	if len(p.Stores) <= 1 {
		return withPrincipal1(r, &p)
	}
	return withPrincipalN(r, &p)
}

// withCompact, withCompactToken, withPrincipal1 and withPrincipalN are
// WithPrincipal's four layouts. Each is a function of its own, not inlined, so that
// WithPrincipal's stack frame holds one copy of the request (the one
// WithContext makes), not three: a handler's stack that grows past its
// size after a garbage collection shrank it is copied whole.
//
//go:noinline
func withCompact(r *http.Request, p *Principal, codes principalCodes) *http.Request {
	pr := &compactRequest{}
	pr.c.init(r.Context(), p, codes, pr.c.stores[:])
	pr.r = *r.WithContext(&pr.c) // WithContext's copy is inlined, on the stack
	return &pr.r
}

//go:noinline
func withCompactToken(r *http.Request, p *Principal, codes principalCodes) *http.Request {
	pr := &compactTokenRequest{}
	pr.c.init(r.Context(), p, codes)
	pr.r = *r.WithContext(&pr.c) // WithContext's copy is inlined, on the stack
	return &pr.r
}

//go:noinline
func withPrincipal1(r *http.Request, p *Principal) *http.Request {
	pr := &principalRequest1{}
	pr.c.init(r.Context(), *p, pr.c.stores[:])
	pr.r = *r.WithContext(&pr.c) // WithContext's copy is inlined, on the stack
	return &pr.r
}

//go:noinline
func withPrincipalN(r *http.Request, p *Principal) *http.Request {
	pr := &principalRequest{}
	pr.c.init(r.Context(), *p, pr.c.stores[:])
	pr.r = *r.WithContext(&pr.c)
	return &pr.r
}

// FromContext returns the Principal stored in ctx by [NewContext] (or
// [WithPrincipal]), and whether there was one.
func FromContext(ctx context.Context) (Principal, bool) {
	switch p := ctx.Value(contextKey{}).(type) {
	case *Principal:
		return *p, true
	case *compactContext:
		return p.principal(p.stores[:]), true
	case *compactTokenContext:
		return p.principal(), true
	}
	return Principal{}, false
}

// compactContext is principalContext for the Principal of an API key or
// a signed request: no token fields (TokenID, Subject, Scope), a method,
// mode and kind of the vocabulary (or empty), and at most two stores. It
// leaves out what such a Principal does not use (the token fields, the
// method, mode and kind as strings, the stores' slice header), so that
// [WithPrincipal]'s allocation is 480 bytes rather than 640, below the
// size at which an object also carries a malloc header. FromContext
// rebuilds the Principal.
type compactContext struct {
	compactFields
	stores [2]string // the Principal's own copy
}

// compactTokenContext is compactContext for the Principal of an access
// token: with the token fields, and room for one store rather than two,
// so that [WithPrincipal]'s allocation is 512 bytes, without a malloc
// header, rather than 576 with one (principalContext1).
type compactTokenContext struct {
	compactFields
	tokenID, subject, scope string
	stores                  [1]string // the Principal's own copy
}

// compactFields are the fields of compactContext and compactTokenContext
// but the room for the stores.
type compactFields struct {
	context.Context
	keyID, account, pkg, store string
	permissions                []string
	clientIP                   netip.Addr
	codes                      principalCodes
	nStores                    uint8
	nilStores                  bool // Stores was nil, not empty
}

// principalCodes are a Principal's method, mode and kind as indexes in
// methodCodes, modeCodes and kindCodes (see compactCodes, which must
// agree with them: TestCompactCodes).
type principalCodes struct{ method, mode, kind uint8 }

// The values of principalCodes.
var (
	methodCodes = [...]Method{"", MethodAPIKey, MethodJWT, MethodHMAC, MethodOneTime, MethodConsole}
	modeCodes   = [...]Mode{"", ModeTest, ModeLive}
	kindCodes   = [...]Kind{"", KindPublishable, KindSecret}
)

// The compact forms of a Principal (see compactForm).
const (
	notCompact   = iota
	compactKey   // a compactContext
	compactToken // a compactTokenContext
)

// compactForm returns the codes of p and the compact form that carries
// it: compactKey without token fields and with at most two stores,
// compactToken with token fields and at most one store, else (or when p's
// method, mode or kind is outside the vocabulary) notCompact.
func compactForm(p *Principal) (principalCodes, int) {
	codes, ok := compactCodes(p)
	switch {
	case !ok:
		return codes, notCompact
	case p.TokenID == "" && p.Subject == "" && p.Scope == "":
		if len(p.Stores) <= len(compactContext{}.stores) {
			return codes, compactKey
		}
	case len(p.Stores) <= len(compactTokenContext{}.stores):
		return codes, compactToken
	}
	return codes, notCompact
}

// compactCodes returns the codes of p's method, mode and kind, and whether
// each is in the vocabulary (or empty).
func compactCodes(p *Principal) (principalCodes, bool) {
	var c principalCodes
	switch p.Method {
	case "":
	case MethodAPIKey:
		c.method = 1
	case MethodJWT:
		c.method = 2
	case MethodHMAC:
		c.method = 3
	case MethodOneTime:
		c.method = 4
	case MethodConsole:
		c.method = 5
	default:
		return c, false
	}
	switch p.Mode {
	case "":
	case ModeTest:
		c.mode = 1
	case ModeLive:
		c.mode = 2
	default:
		return c, false
	}
	switch p.Kind {
	case "":
	case KindPublishable:
		c.kind = 1
	case KindSecret:
		c.kind = 2
	default:
		return c, false
	}
	return c, true
}

// init makes c carry p, whose codes are codes, over ctx, with a copy of
// p.Stores of its own in room (where they fit: see compactForm).
func (c *compactFields) init(ctx context.Context, p *Principal, codes principalCodes, room []string) {
	c.Context, c.codes = ctx, codes
	c.keyID, c.account, c.pkg, c.store = p.KeyID, p.Account, p.Package, p.Store
	c.permissions, c.clientIP = p.Permissions, p.ClientIP
	c.nStores, c.nilStores = uint8(copy(room, p.Stores)), p.Stores == nil
}

// principal rebuilds the Principal c carries, but for the token fields,
// with its stores in room.
func (c *compactFields) principal(room []string) Principal {
	p := Principal{
		Method: methodCodes[c.codes.method], KeyID: c.keyID, Account: c.account,
		Mode: modeCodes[c.codes.mode], Kind: kindCodes[c.codes.kind], Package: c.pkg,
		Permissions: c.permissions, ClientIP: c.clientIP, Store: c.store,
	}
	if !c.nilStores {
		p.Stores = room[:c.nStores:c.nStores]
	}
	return p
}

// Value returns c for contextKey (FromContext rebuilds the Principal), and
// asks the parent for every other key.
func (c *compactContext) Value(key any) any {
	if key == (contextKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// init makes c carry p, whose codes are codes, over ctx, with a copy of
// p.Stores of its own.
func (c *compactTokenContext) init(ctx context.Context, p *Principal, codes principalCodes) {
	c.compactFields.init(ctx, p, codes, c.stores[:])
	c.tokenID, c.subject, c.scope = p.TokenID, p.Subject, p.Scope
}

// principal rebuilds the Principal c carries.
func (c *compactTokenContext) principal() Principal {
	p := c.compactFields.principal(c.stores[:])
	p.TokenID, p.Subject, p.Scope = c.tokenID, c.subject, c.scope
	return p
}

// Value returns c for contextKey (FromContext rebuilds the Principal), and
// asks the parent for every other key.
func (c *compactTokenContext) Value(key any) any {
	if key == (contextKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// compactRequest is [WithPrincipal]'s request and its compactContext, made
// together; compactTokenRequest, with its compactTokenContext.
type (
	compactRequest struct {
		r http.Request
		c compactContext
	}
	compactTokenRequest struct {
		r http.Request
		c compactTokenContext
	}
)
