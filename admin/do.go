package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
)

// Caller is who makes a call through [Handler.Do]: a caller the service
// has authenticated itself, such as a user signed in to an administration
// console. The call is authorized as an HTTP request of a credential with
// Grants would be, with every check of the admin API (the route's
// permission, what a caller may give, separation of duties), and its
// changes are reported with the caller as actor.
type Caller struct {
	// Principal names the caller. Its KeyID, else its Subject (such as
	// "console:alice"), is the actor recorded in change events, in a key's
	// CreatedBy and PermissionsSetBy, and judged by separation of duties;
	// it scopes the caller's idempotency keys. One of them is required.
	Principal keygate.Principal
	// Grants are the caller's effective permissions: [PermissionRead],
	// [PermissionWrite] and [PermissionReview] open the routes, and the
	// caller may give credentials only what Grants include.
	Grants access.Grants
	// Account, when set, confines the caller to that account, as the
	// owner of one account: lists show only its resources, another
	// account's resources answer 404 not_found as if they did not exist,
	// and a create request for another account is a validation error on
	// "account" (no account has this ID). Creating, updating, disabling or
	// enabling accounts, and revoking access tokens or refresh-token
	// families (which name no account), answer 403 insufficient_scope.
	Account string
}

// Request is one call of the admin API through [Handler.Do].
type Request struct {
	// Method is GET, POST, PATCH or DELETE.
	Method string
	// Path is the route relative to Config.Prefix, with its query, such
	// as "/keys?account=acct_1&limit=20" or "/keys/key_1/rotate".
	Path string
	// Body is the JSON body of a POST or PATCH; nil for none.
	Body []byte
	// IdempotencyKey is the Idempotency-Key of a POST; empty for none.
	// Replays show no plaintext secret (see the package documentation).
	IdempotencyKey string
}

// Response is the outcome of [Handler.Do].
type Response struct {
	// Status is the HTTP status the call would have been answered with.
	Status int
	// Body is the result on success, of the type the route's JSON
	// response is encoded from: [KeyPair] for POST /keys, [*Key],
	// [List][*Key], [Account], [List][Account], [*HMACKey],
	// [List][*HMACKey], [TokenRevocation], [List][audit.Event], [IPRule],
	// [List][IPRule]. Nil on an error and on a replay.
	Body any
	// Replayed reports an idempotent replay: the response of an earlier
	// call with the same IdempotencyKey, whose JSON body is Raw.
	Replayed bool
	// Raw is the JSON body of a replayed response.
	Raw []byte
	// Err is the error on failure, as the HTTP API would have written it
	// (Status is Err.Status); nil on success.
	Err *Error
}

// target is what a route acts on, for confining a [Caller] to one
// account.
type target uint8

const (
	targetNone          target = iota // nothing of an account (the OpenAPI document)
	targetAccountList                 // GET /accounts: only the caller's account
	targetAccount                     // an account named by {id}
	targetAccountsWrite               // creating or changing accounts: refused
	targetBody                        // a create request naming its account in the body
	targetQuery                       // a list filtered by its "account" query parameter
	targetKey                         // an API key named by {id}
	targetHMAC                        // an HMAC credential named by {id}
	targetTokens                      // token revocation: refused
	targetIPRule                      // an IP rule named by {id}
)

// doState is what a call through Do carries in its context: the caller,
// and where the outcome goes.
type doState struct {
	caller *Caller
	out    outcome
}

// doKey is the context key of the doState.
type doKey struct{}

// callFrom returns the state of the Do call ctx belongs to, if any.
func callFrom(ctx context.Context) (*doState, bool) {
	st, ok := ctx.Value(doKey{}).(*doState)
	return st, ok
}

// confinedTo returns the account a Do caller is confined to, if any.
func confinedTo(ctx context.Context) (string, bool) {
	if st, ok := callFrom(ctx); ok && st.caller.Account != "" {
		return st.caller.Account, true
	}
	return "", false
}

// errConfined answers a call an account-confined caller may not make.
var errConfined = newError(http.StatusForbidden, CodeInsufficientScope,
	"a caller confined to one account may not create or change accounts or revoke tokens")

// Do makes one call of the admin API in process, for c, and returns its
// outcome. It runs the very endpoint an HTTP request would (validation,
// permission checks, separation of duties, idempotency and change
// events), without authenticating: the service vouches for c. An
// administration console calls it with its signed-in user, so that no
// rule of the admin API exists twice.
//
// No audit request event is recorded for the call; the changes it makes
// are reported through the managers' OnChange, as for HTTP calls. Do is
// safe for concurrent use.
func (h *Handler) Do(ctx context.Context, c Caller, req Request) Response {
	if c.Principal.KeyID == "" && c.Principal.Subject == "" {
		return response(outcome{err: invalidRequest("the caller has neither a key ID nor a subject")})
	}
	switch req.Method {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete:
	default:
		return response(outcome{err: newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "the admin API accepts GET, POST, PATCH and DELETE")})
	}
	if !strings.HasPrefix(req.Path, "/") || strings.HasPrefix(req.Path, "//") {
		return response(outcome{err: notFound("no such route")})
	}
	u, err := url.ParseRequestURI(h.cfg.Prefix + req.Path)
	if err != nil || u.Fragment != "" {
		return response(outcome{err: invalidRequest("the path does not parse")})
	}
	// A request no route serves (one the mux would redirect to its clean
	// path, say) is answered as an unknown route.
	st := &doState{caller: &c, out: outcome{err: notFound("no such route")}}
	ctx = keygate.NewContext(context.WithValue(ctx, doKey{}, st), c.Principal)
	r, err := http.NewRequestWithContext(ctx, req.Method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return response(outcome{err: invalidRequest("the request could not be built")})
	}
	r.URL, r.RequestURI = u, ""
	if len(req.Body) > 0 {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.IdempotencyKey != "" {
		r.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	h.direct.ServeHTTP(discard{}, r)
	return response(st.out)
}

// response converts an outcome for Do.
func response(o outcome) Response {
	switch {
	case o.err != nil:
		return Response{Status: o.err.Status, Err: o.err}
	case o.replayed:
		return Response{Status: o.res.status, Replayed: true, Raw: o.raw}
	}
	// The body a caller in process gets is the one an HTTP client
	// decodes: check that it encodes, as writeResult does.
	if _, err := json.Marshal(o.res.body); err != nil {
		return Response{Status: errServer.Status, Err: errServer}
	}
	return Response{Status: o.res.status, Body: o.res.body}
}

// directEndpoint serves rt for Do: the caller's grants stand in for the
// middleware's authorization, then the caller's confinement applies.
func (h *Handler) directEndpoint(rt route) http.Handler {
	var need access.Permission
	if rt.perm != "" {
		need = access.MustParsePermission(rt.perm)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, ok := callFrom(r.Context())
		if !ok {
			return // only Do reaches this mux
		}
		if rt.perm != "" && !st.caller.Grants.Allows(need) {
			st.out = outcome{err: newError(http.StatusForbidden, CodeInsufficientScope,
				"the caller does not hold the permission this route requires: "+rt.perm)}
			return
		}
		if st.caller.Account != "" {
			if o, done := h.confine(r, rt, st.caller.Account); done {
				st.out = o
				return
			}
		}
		st.out = h.run(w, r, rt)
	})
}

// directUnrouted answers a Do call that no route matched.
func directUnrouted(_ http.ResponseWriter, r *http.Request) {
	if st, ok := callFrom(r.Context()); ok {
		st.out = outcome{err: notFound("no such route")}
	}
}

// confine applies a caller's confinement to the account acct before rt
// runs. It returns the outcome and true when the call is answered without
// running the route; it may narrow r's query instead.
func (h *Handler) confine(r *http.Request, rt route, acct string) (outcome, bool) {
	ctx := r.Context()
	switch rt.target {
	case targetNone, targetBody:
		// The create requests check their "account" member (checkGrant).
		return outcome{}, false
	case targetAccountsWrite, targetTokens:
		return outcome{err: errConfined}, true
	case targetAccountList:
		return h.confinedAccountList(r, acct), true
	case targetAccount:
		if r.PathValue("id") != acct {
			return outcome{err: notFound("no account has this ID")}, true
		}
	case targetQuery:
		q := r.URL.Query()
		switch vs, ok := q["account"]; {
		case !ok:
			q.Set("account", acct)
			r.URL.RawQuery = q.Encode()
		case len(vs) != 1 || vs[0] != acct:
			return outcome{err: notFound("no account has this ID")}, true
		}
	case targetKey:
		id := r.PathValue("id")
		if !validID(id) {
			return outcome{}, false // the route answers 404 itself
		}
		rec, err := h.cfg.Keys.Get(ctx, id)
		switch {
		case errors.Is(err, apikey.ErrNotFound):
			return outcome{}, false
		case err != nil:
			return outcome{err: classify(err)}, true
		case rec.Account != acct:
			return outcome{err: notFound("no API key has this ID")}, true
		}
	case targetHMAC:
		id, err := h.hmacID(r)
		if err != nil {
			return outcome{}, false // the route answers 404 itself
		}
		c, err := h.cfg.HMAC.Get(ctx, id)
		switch {
		case errors.Is(err, httpsig.ErrNotFound):
			return outcome{}, false
		case err != nil:
			return outcome{err: classify(err)}, true
		case c.Account != acct:
			return outcome{err: notFound("no HMAC credential has this key ID")}, true
		}
	case targetIPRule:
		return h.confineIPRule(r, acct)
	default:
		return outcome{err: errServer}, true // a route without a target: fail closed
	}
	return outcome{}, false
}

// confinedAccountList answers GET /accounts for a caller confined to
// acct: that account alone, if it matches the search "q" (the paging
// parameters are checked, and moot).
func (h *Handler) confinedAccountList(r *http.Request, acct string) outcome {
	q, err := parseQuery(r, "limit", "cursor", "q")
	if err != nil {
		return outcome{err: classify(err)}
	}
	search, err := accountSearch(q)
	if err != nil {
		return outcome{err: classify(err)}
	}
	a, err := h.cfg.Accounts.Get(r.Context(), acct)
	if err != nil {
		return outcome{err: classify(err)}
	}
	out := List[Account]{Data: []Account{}}
	if f := (account.ListFilter{Search: search}); f.Matches(&a) {
		out.Data = append(out.Data, accountJSON(a))
	}
	return outcome{res: result{status: http.StatusOK, body: out}}
}

// discard is the ResponseWriter of Do's requests: the outcome travels in
// the context, and nothing is written.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
