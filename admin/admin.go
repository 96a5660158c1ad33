package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/idempotency"
	"github.com/keygate/keygate/internal/validate"
	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// The permissions the admin routes require of their callers.
const (
	// PermissionRead is required by every GET route.
	PermissionRead = "admin:read"
	// PermissionWrite is required by every POST and PATCH route but
	// approval.
	PermissionWrite = "admin:write"
	// PermissionReview is required by POST /keys/{id}/approve.
	PermissionReview = "admin:review"
)

// DefaultAccessTokenTTL is Config.AccessTokenTTL when it is zero.
const DefaultAccessTokenTTL = time.Hour

// MaxGrace is the longest rotation grace period: 30 days. A rotate request
// gives its grace period in whole seconds (grace_seconds), from 0 to
// MaxGrace.
const MaxGrace = 30 * 24 * time.Hour

// Config configures a [Handler].
type Config struct {
	// Prefix is where the service mounts the handler, such as
	// "/admin/v1": the routes are Prefix+"/keys" and so on. Required: it
	// starts with "/", does not end with "/", and holds only the
	// characters A-Z a-z 0-9 - . _ ~ / (no empty, "." or ".." segment).
	// Mount the handler with mux.Handle(Prefix+"/", h), without
	// http.StripPrefix, so that the audit log records the admin routes.
	Prefix string
	// Auth authenticates and authorizes the callers: each route requires
	// [PermissionRead], [PermissionWrite] or [PermissionReview] through
	// Auth.Require. Required.
	Auth *middleware.Authenticator
	// Accounts manages the accounts. Required.
	Accounts *account.Manager
	// Keys manages the API keys. Required.
	Keys *apikey.Manager
	// HMAC manages the HMAC credentials. Nil: the /hmac-keys routes answer
	// 404 not_found.
	HMAC *httpsig.Manager
	// Denylist revokes access tokens by jti and by subject. Nil: such
	// revocations answer 404 not_found.
	Denylist jwt.Denylist
	// Refresh revokes refresh-token families. Nil: such revocations answer
	// 404 not_found.
	Refresh *jwt.RefreshTokens
	// AccessTokenTTL is the longest lifetime of the access tokens the
	// service issues: a jti revoked now stays denied that long (and the
	// denylist keeps it jwt.RevocationMargin more). Zero means
	// [DefaultAccessTokenTTL].
	AccessTokenTTL time.Duration
	// Audit answers GET /audit. Nil: that route answers 404 not_found.
	Audit audit.History
	// Idempotency remembers responses by Idempotency-Key. Nil means a new
	// [idempotency.MemoryStore] with its defaults (24 hours, at most
	// 10,000 entries).
	Idempotency idempotency.Store
	// Roles defines the roles that the "roles" member of a create request
	// may name; they are expanded into the credential's permissions.
	Roles access.Roles
	// SeparateReview refuses the approval of a key by the admin key (or
	// subject) that created it or last set its permissions or package
	// (apikey.Record's PermissionsSetBy): 403 separation_of_duties.
	SeparateReview bool
	// OnChange is told of the management actions the handler does
	// itself: [keygate.ActionTokenRevoked],
	// [keygate.ActionSubjectRevoked], [keygate.ActionIPRuleCreated] and
	// [keygate.ActionIPRuleDeleted], with the caller as actor. The
	// managers report their own actions through their own OnChange.
	OnChange keygate.ChangeFunc
	// IPRules keeps the service-wide and account IP rules of the
	// /ip-rules routes (give the middleware an [iprule.Checker] of the
	// same store, and tell it of the changes through OnChange). Nil: those
	// routes answer 404 not_found.
	IPRules iprule.Store
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Handler serves the admin API (see the package documentation). Create it
// with [New]; it is safe for concurrent use.
type Handler struct {
	cfg     Config
	idem    idempotency.Store
	mux     *http.ServeMux
	direct  *http.ServeMux // the routes for Do, without authentication
	routes  []route
	openapi []byte
}

// route is one line of the route table.
type route struct {
	method string // GET, POST, PATCH or DELETE
	path   string // relative to the prefix, such as "/keys/{id}/rotate"
	perm   string // the permission required; "" for a public route
	serve  func(h *Handler, r *http.Request, body []byte) (result, error)
	// target is what the route acts on, for a caller confined to one
	// account (see [Caller]).
	target target
}

// result is what an endpoint answers.
type result struct {
	status int
	body   any
	// replay is what a replay of the response shows: body without its
	// plaintext secrets. Nil means body.
	replay any
}

// table is the route table of the admin API.
var table = []route{
	{"POST", "/accounts", PermissionWrite, (*Handler).createAccount, targetAccountsWrite},
	{"GET", "/accounts", PermissionRead, (*Handler).listAccounts, targetAccountList},
	{"GET", "/accounts/{id}", PermissionRead, (*Handler).getAccount, targetAccount},
	{"PATCH", "/accounts/{id}", PermissionWrite, (*Handler).updateAccount, targetAccountsWrite},
	{"POST", "/accounts/{id}/disable", PermissionWrite, (*Handler).disableAccount, targetAccountsWrite},
	{"POST", "/accounts/{id}/enable", PermissionWrite, (*Handler).enableAccount, targetAccountsWrite},
	{"POST", "/keys", PermissionWrite, (*Handler).createKeys, targetBody},
	{"GET", "/keys", PermissionRead, (*Handler).listKeys, targetQuery},
	{"GET", "/keys/{id}", PermissionRead, (*Handler).getKey, targetKey},
	{"PATCH", "/keys/{id}", PermissionWrite, (*Handler).updateKey, targetKey},
	{"POST", "/keys/{id}/rotate", PermissionWrite, (*Handler).rotateKey, targetKey},
	{"POST", "/keys/{id}/revoke", PermissionWrite, (*Handler).revokeKey, targetKey},
	{"POST", "/keys/{id}/disable", PermissionWrite, (*Handler).disableKey, targetKey},
	{"POST", "/keys/{id}/enable", PermissionWrite, (*Handler).enableKey, targetKey},
	{"POST", "/keys/{id}/approve", PermissionReview, (*Handler).approveKey, targetKey},
	{"POST", "/hmac-keys", PermissionWrite, (*Handler).createHMAC, targetBody},
	{"GET", "/hmac-keys", PermissionRead, (*Handler).listHMAC, targetQuery},
	{"GET", "/hmac-keys/{id}", PermissionRead, (*Handler).getHMAC, targetHMAC},
	{"POST", "/hmac-keys/{id}/rotate", PermissionWrite, (*Handler).rotateHMAC, targetHMAC},
	{"POST", "/hmac-keys/{id}/revoke", PermissionWrite, (*Handler).revokeHMAC, targetHMAC},
	{"POST", "/tokens/revoke", PermissionWrite, (*Handler).revokeToken, targetTokens},
	{"GET", "/audit", PermissionRead, (*Handler).queryAudit, targetQuery},
	{"POST", "/ip-rules", PermissionWrite, (*Handler).createIPRule, targetBody},
	{"GET", "/ip-rules", PermissionRead, (*Handler).listIPRules, targetQuery},
	{"DELETE", "/ip-rules/{id}", PermissionWrite, (*Handler).deleteIPRule, targetIPRule},
	{"GET", "/openapi.json", "", (*Handler).serveOpenAPI, targetNone},
}

// New returns a Handler for cfg. It fails if a required field is missing
// or a field is invalid.
func New(cfg Config) (*Handler, error) {
	switch {
	case !validate.MountPrefix(cfg.Prefix):
		return nil, errors.New(`admin: Config.Prefix must start with "/", not end with "/", and hold only A-Z a-z 0-9 - . _ ~ / without empty, "." or ".." segments`)
	case cfg.Auth == nil:
		return nil, errors.New("admin: Config.Auth is required")
	case cfg.Accounts == nil:
		return nil, errors.New("admin: Config.Accounts is required")
	case cfg.Keys == nil:
		return nil, errors.New("admin: Config.Keys is required")
	case cfg.AccessTokenTTL < 0:
		return nil, errors.New("admin: Config.AccessTokenTTL must not be negative")
	}
	if err := cfg.Roles.Validate(); err != nil {
		return nil, errors.New("admin: Config.Roles: " + err.Error())
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, idem: cfg.Idempotency, mux: http.NewServeMux(), direct: http.NewServeMux(), routes: table}
	if h.idem == nil {
		h.idem = idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	}
	var err error
	if h.openapi, err = openAPIDocument(cfg.Prefix); err != nil {
		return nil, err
	}
	for _, rt := range h.routes {
		var next http.Handler = h.endpoint(rt)
		if rt.perm != "" {
			next = cfg.Auth.Require(middleware.Rule{Permission: rt.perm})(next)
		}
		h.mux.Handle(rt.method+" "+cfg.Prefix+rt.path, next)
		h.direct.Handle(rt.method+" "+cfg.Prefix+rt.path, h.directEndpoint(rt))
	}
	h.direct.HandleFunc("/", directUnrouted)
	// Everything else: 404 or 405, as JSON.
	h.mux.HandleFunc(cfg.Prefix+"/", h.unrouted)
	h.mux.HandleFunc(cfg.Prefix, h.unrouted)
	h.mux.HandleFunc("/", h.unrouted)
	return h, nil
}

// ServeHTTP serves the admin API. The routing ServeMux sets r.Pattern on
// r itself, so that an enclosing [middleware.Authenticator.Audit] records
// the admin route (such as "POST /admin/v1/keys/{id}/rotate").
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// unrouted answers a request no route matched: 405 with an Allow header
// when the path has routes for other methods, else 404.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	self := r.Pattern
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != self && strings.HasPrefix(pattern, m+" ") {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "this route does not accept this method; see the Allow header"))
		return
	}
	writeError(w, notFound("no such route"))
}

// endpoint wraps an endpoint function for HTTP: it runs the call (see
// [Handler.run]) and writes its outcome.
func (h *Handler) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.write(w, r, h.run(w, r, rt))
	})
}

// outcome is what one call of an endpoint came to: a result, an error, or
// the stored response of an idempotent replay.
type outcome struct {
	res      result
	err      *Error
	replayed bool
	raw      []byte // the replayed response's JSON body
}

// run reads the body of POST and PATCH requests, applies idempotency to
// POST requests, and calls the endpoint. w is used only to bound the
// body's size.
func (h *Handler) run(w http.ResponseWriter, r *http.Request, rt route) outcome {
	var body []byte
	if rt.method == http.MethodPost || rt.method == http.MethodPatch {
		if r.URL.RawQuery != "" {
			return outcome{err: invalidRequest("this route takes no query parameters")}
		}
		var err error
		if body, err = readBody(w, r); err != nil {
			return outcome{err: classify(err)}
		}
	}
	if rt.method == http.MethodPost {
		return h.runIdempotent(r, rt, body)
	}
	return serveRoute(h, r, rt, body)
}

// serveRoute calls the endpoint of rt.
func serveRoute(h *Handler, r *http.Request, rt route, body []byte) outcome {
	res, err := rt.serve(h, r, body)
	if err != nil {
		return outcome{err: classify(err)}
	}
	return outcome{res: res}
}

// write writes o as the response to r.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, o outcome) {
	switch {
	case o.err != nil:
		refuse(w, r, o.err)
	case o.replayed:
		w.Header().Set("Idempotent-Replayed", "true")
		writeRaw(w, o.res.status, o.raw)
	default:
		writeResult(w, o.res.status, o.res.body)
	}
}

// runIdempotent runs a POST endpoint, honouring its Idempotency-Key.
func (h *Handler) runIdempotent(r *http.Request, rt route, body []byte) outcome {
	key, ok, err := idempotencyKey(r.Header)
	if err != nil {
		return outcome{err: classify(err)}
	}
	if !ok {
		return serveRoute(h, r, rt, body)
	}
	ctx := r.Context()
	skey := scopedKey(caller(ctx), key)
	fp := fingerprint(r, body)
	prev, reserved, err := h.idem.Reserve(ctx, skey, fp)
	switch {
	case err != nil:
		return outcome{err: errUnavailable}
	case !reserved && !bytes.Equal(prev.Fingerprint, fp):
		return outcome{err: errReused}
	case !reserved && !prev.Done:
		return outcome{err: errInUse}
	case !reserved:
		return outcome{res: result{status: prev.Status}, replayed: true, raw: prev.Body}
	}
	// Whatever happens below, a reservation that is not completed is
	// released, so that the call may be retried.
	completed := false
	defer func() {
		if !completed {
			_ = h.idem.Release(context.WithoutCancel(ctx), skey)
		}
	}()
	o := serveRoute(h, r, rt, body)
	if o.err != nil {
		return o
	}
	replay := o.res.replay
	if replay == nil {
		replay = o.res.body
	}
	stored, err := json.Marshal(replay)
	if err == nil && o.res.status >= 200 && o.res.status < 300 {
		completed = h.idem.Complete(context.WithoutCancel(ctx), skey, o.res.status, append(stored, '\n')) == nil
	}
	return o
}

// caller names the authenticated caller: its key ID, else its subject.
func caller(ctx context.Context) string {
	p, _ := keygate.FromContext(ctx)
	if p.KeyID != "" {
		return p.KeyID
	}
	return p.Subject
}

// writeResult writes v as the JSON body of a response with status.
func writeResult(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errServer)
		return
	}
	writeRaw(w, status, append(b, '\n'))
}

// writeRaw writes a JSON body with the headers every admin response has.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

// refuse writes e as the response to r. A 403 is also told to an
// enclosing [middleware.Authenticator.Audit], so that the request event
// records a denial with e's code as the reason, beside the caller.
func refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Status == http.StatusForbidden {
		middleware.RefuseRequest(r.Context(), e.Code)
	}
	writeError(w, e)
}

// writeError writes e as an error response.
func writeError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	b, err := json.Marshal(e)
	if err != nil {
		b = []byte(`{"error":"server_error","error_description":"an unexpected error occurred"}`)
	}
	writeRaw(w, e.Status, append(b, '\n'))
}
