// Package console is keygate's admin console: server-rendered HTML pages
// for operators and account owners, mounted by a service under a prefix of
// its choice, as package admin is.
//
// Every read and every action of the console goes through
// [admin.Handler.Do]: the very endpoint of the admin API, with its
// validation, permission checks, separation of duties, idempotency and
// change events. The console only renders, and maps the admin API's errors
// to form errors.
//
// People sign in with a username and password ([Users]); the console holds
// their sessions on the server ([Sessions]) and names them by a cookie
// (__Host-keygate-session: HttpOnly, SameSite=Strict, always Secure).
// Browsers treat http://localhost and http://127.0.0.1 as secure, so the
// console works over plain HTTP on loopback; anywhere else it needs HTTPS,
// and its sign-in page says so. Cross-site requests are refused by
// [http.CrossOriginProtection] and a per-session form token.
//
// Every response carries a strict Content-Security-Policy (no inline script
// or style), Referrer-Policy no-referrer, X-Content-Type-Options nosniff and
// X-Frame-Options DENY; pages are Cache-Control no-store.
package console

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/internal/validate"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// SessionCookie is the name of the console's session cookie. The __Host-
// prefix makes browsers accept it only when Secure, with Path=/ and no
// Domain: no other host (a sibling subdomain) can set or shadow it.
const SessionCookie = "__Host-keygate-session"

// ContentSecurityPolicy is the Content-Security-Policy of every response of
// the console: nothing but its own scripts, styles and images, no inline
// script or style, no framing, forms posted only to itself.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// DefaultSignInFailures is Config.SignInFailures when it is zero: five failed
// sign-ins for one username from one client address per 15 minutes, then
// one more every 3 minutes.
var DefaultSignInFailures = ratelimit.Policy{Name: "console-sign-in", Limit: 5, Window: 15 * time.Minute}

// SignInFailuresPerUser is how many times Config.SignInFailures' limit one
// username may fail from all client addresses together, in the same
// window.
const SignInFailuresPerUser = 10

// The audit actions of the console.
const (
	ActionSignIn       = "console.sign_in"
	ActionSignOut      = "console.sign_out"
	ActionSignInFailed = "console.sign_in_failed"
)

// The reasons of [ActionSignInFailed] events (ReasonTooManyFailures is
// the middleware's reason for the same refusal of an API request).
const (
	// ReasonBadCredentials is the reason of a sign-in with an unknown
	// username or a wrong password.
	ReasonBadCredentials = "invalid_credentials"
	// ReasonTooManyFailures is the reason of a sign-in refused
	// unchecked, because the client address or the username failed too
	// often.
	ReasonTooManyFailures = middleware.CodeTooManyFailures
)

// Config configures a [Handler].
type Config struct {
	// Prefix is where the service mounts the console, such as "/console":
	// its pages are Prefix+"/", Prefix+"/keys/{id}" and so on. Required:
	// it starts with "/", does not end with "/", and holds only A-Z a-z
	// 0-9 - . _ ~ /. Mount the handler with mux.Handle(Prefix+"/", h),
	// without http.StripPrefix.
	Prefix string
	// Admin is the admin API: every read and action goes through its Do.
	// Required.
	Admin *admin.Handler
	// Auth gives the client address (through its trusted proxies) and the
	// per-address limit of failed authentications, which failed sign-ins
	// count against as failed API requests do; its packages (Packages) give
	// an account owner's permissions. Required.
	Auth *middleware.Authenticator
	// Users are the people who may sign in. Required.
	Users *Users
	// Sessions holds their sessions. Required.
	Sessions *Sessions
	// History, when set, enables the audit page, which reads it through
	// Admin (the admin API's own Config.Audit answers). Nil: the audit page
	// says that the history is not enabled.
	History audit.History
	// Summary, when set, gives the overview its charts: the requests of
	// the last hour and day per mode and decision, and the top deny
	// reasons. Nil: the overview shows no charts.
	Summary audit.Summarizer
	// Audit records the console's own events: sign-in, sign-out and failed
	// sign-ins ([ActionSignIn], [ActionSignOut], [ActionSignInFailed]),
	// with the user as Actor ("console:<username>") and the client
	// address; never a password. Nil records nothing.
	Audit func(ctx context.Context, e audit.Event)
	// SignInFailures bounds failed sign-ins for one username from one
	// client address (an IPv6 address with its /64), on top of the
	// per-address limit of Auth; and, SignInFailuresPerUser times that,
	// for one username from everywhere. A guesser is slowed on the
	// username it attacks without locking its owner out from the owner's
	// own address, unless the guesses come from many addresses at once.
	// Zero means [DefaultSignInFailures]; a policy with Limit < 0
	// disables both.
	SignInFailures ratelimit.Policy
	// Limiter counts the failed sign-ins per username. Nil means a new
	// in-memory limiter, which counts for this instance alone: give the
	// service's shared limiter (the one of its middleware.AccessConfig,
	// such as Redis) so that its instances count together. The counts are
	// kept under the policies' names ("console-sign-in:…").
	Limiter ratelimit.Peeker
	// TLSTerminated tells that a proxy in front of the service terminates
	// HTTPS, so that a request arriving over plain HTTP from a remote
	// address was HTTPS for the browser. False: the console accepts
	// sign-ins over plain HTTP only on loopback (see the package
	// documentation).
	TLSTerminated bool
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Handler serves the console. Create it with [New]; it is safe for
// concurrent use.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	next     http.Handler // mux behind the cross-origin protection
	views    *views
	names    *ratelimit.FailureLimiter // failed sign-ins per username and client; nil: none
	namesAll *ratelimit.FailureLimiter // failed sign-ins per username; nil when names is
}

// New returns a Handler for cfg. It fails if a required field is missing
// or a field is invalid.
func New(cfg Config) (*Handler, error) {
	switch {
	case !validate.MountPrefix(cfg.Prefix):
		return nil, errors.New(`console: Config.Prefix must start with "/", not end with "/", and hold only A-Z a-z 0-9 - . _ ~ / without empty, "." or ".." segments`)
	case cfg.Admin == nil:
		return nil, errors.New("console: Config.Admin is required")
	case cfg.Auth == nil:
		return nil, errors.New("console: Config.Auth is required")
	case cfg.Users == nil:
		return nil, errors.New("console: Config.Users is required")
	case cfg.Sessions == nil:
		return nil, errors.New("console: Config.Sessions is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SignInFailures == (ratelimit.Policy{}) {
		cfg.SignInFailures = DefaultSignInFailures
	}
	if cfg.SignInFailures.Name == "" {
		cfg.SignInFailures.Name = DefaultSignInFailures.Name
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	if !cfg.SignInFailures.Unlimited() {
		if err := cfg.SignInFailures.Validate(); err != nil {
			return nil, errors.New("console: Config.SignInFailures: " + err.Error())
		}
		lim := cfg.Limiter
		if lim == nil {
			lim = ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: cfg.Now, MaxKeys: 100_000})
		}
		h.names = ratelimit.NewFailureLimiter(lim, cfg.SignInFailures)
		all := cfg.SignInFailures
		all.Name += "-all"
		all.Limit *= SignInFailuresPerUser
		h.namesAll = ratelimit.NewFailureLimiter(lim, all) // its keys are under its own name
	}
	var err error
	if h.views, err = loadViews(cfg.Prefix); err != nil {
		return nil, err
	}
	h.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.refuse(w, r, nil, http.StatusForbidden, "This request came from another site and was refused. Go back to the console and try again.")
	}))
	h.next = cop.Handler(h.mux)
	return h, nil
}

// routes registers every page. A file of pages adds its own registration
// function here.
func (h *Handler) routes() {
	p := h.cfg.Prefix
	h.mux.Handle("GET "+p+"/static/", h.staticHandler())
	h.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/", http.StatusSeeOther)
	})
	h.mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		s, err := h.signedIn(r)
		if err != nil {
			s = nil // the error page without navigation
		}
		h.notFound(w, r, s)
	})
	h.sessionRoutes()
	h.overviewRoutes()
	h.auditRoutes()
	h.routePages()
}

// ServeHTTP sets the security headers of every response, refuses
// cross-origin form posts, and serves the page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	h.next.ServeHTTP(w, r)
}

// roleNeed is who may see a page.
type roleNeed int

const (
	// anyone signed in: operators and account owners.
	anyone roleNeed = iota
	// operators only; an account owner gets 404, as for another account.
	operators
)

// signedIn is the person behind a request to a page.
type signedIn struct {
	// User is the console user.
	User consolestore.User
	// Caller is who the admin API sees: the user's permissions, and for
	// an account owner its account.
	Caller admin.Caller
	// CSRF is the session's form token: the hidden csrf field of every
	// POST form.
	CSRF string
	// Package is an account owner's package (empty for operators).
	Package string

	sessionID string
}

// maxFormBytes bounds the body of a form post.
const maxFormBytes = 64 << 10

// page registers fn for pattern, such as "GET /keys/{id}" or
// "POST /keys/{id}/rotate" (the path relative to the prefix; "/{$}" is the
// overview). It answers a request without a valid session with a redirect to
// the sign-in page (303; a GET comes back to its page once signed in), a
// user that need does not admit with 404, and a POST without the session's
// form token (field csrf) with 403. A POST's form is parsed (at most 64 KiB)
// before fn runs.
func (h *Handler) page(pattern string, need roleNeed, fn func(w http.ResponseWriter, r *http.Request, s *signedIn)) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || !strings.HasPrefix(path, "/") {
		panic("console: bad page pattern " + pattern)
	}
	h.mux.HandleFunc(method+" "+h.cfg.Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		s, err := h.signedIn(r)
		if errors.Is(err, consolestore.ErrNoSession) {
			h.toSignIn(w, r)
			return
		}
		if err != nil {
			h.refuse(w, r, nil, http.StatusServiceUnavailable, "The console cannot reach its store right now. Try again in a moment.")
			return
		}
		if need == operators && s.User.Role != consolestore.RoleOperator {
			h.notFound(w, r, s)
			return
		}
		if r.Method == http.MethodPost {
			if !h.parseForm(w, r) {
				h.refuse(w, r, s, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !CheckCSRF(s.sessionID, r.PostForm.Get("csrf")) {
				h.refuse(w, r, s, http.StatusForbidden, "The form has expired or did not come from this console. Reload the page and try again.")
				return
			}
		}
		fn(w, r, s)
	})
}

// parseForm reads a form post of at most maxFormBytes.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm() == nil
}

// call runs one admin API request as s: body, when not nil, is marshalled to
// JSON. It never fails: a failure is the Response's Err.
func (h *Handler) call(r *http.Request, s *signedIn, method, path string, body any) admin.Response {
	return h.callKey(r, s, method, path, body, "")
}

// callKey is call with an Idempotency-Key.
func (h *Handler) callKey(r *http.Request, s *signedIn, method, path string, body any, idemKey string) admin.Response {
	req := admin.Request{Method: method, Path: path, IdempotencyKey: idemKey}
	if body != nil {
		b, err := marshalJSON(body)
		if err != nil {
			return admin.Response{Status: http.StatusBadRequest, Err: &admin.Error{Status: http.StatusBadRequest,
				Code: admin.CodeInvalidRequest, Description: "The form could not be encoded."}}
		}
		req.Body = b
	}
	return h.cfg.Admin.Do(r.Context(), s.Caller, req)
}
