package console

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/ratelimit"
)

// Bounds of the sign-in form's fields.
const (
	maxUsernameLen = 4 * MaxUsernameLen // bytes
	maxPasswordLen = 1024
	maxSessionLen  = 128 // a session ID is 43 characters
)

// sessionRoutes registers the sign-in and sign-out pages.
func (h *Handler) sessionRoutes() {
	p := h.cfg.Prefix
	h.mux.HandleFunc("GET "+p+"/signin", h.signInPage)
	h.mux.HandleFunc("POST "+p+"/signin", h.signIn)
	h.page("POST /signout", anyone, h.signOut)
}

// signInData is the Data of the sign-in page.
type signInData struct {
	Username string
	Next     string
	// Insecure says that the request came over plain HTTP from outside
	// loopback, where the browser would not keep the Secure cookie.
	Insecure bool
	Errors   map[string]string
}

// signInPage shows the sign-in form. A person already signed in goes on to
// the page asked for.
func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	next := h.safeNext(r.URL.Query().Get("next"))
	if _, err := h.signedIn(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, nil, http.StatusOK, "signin.html", signInData{Next: next, Insecure: !h.secureContext(r)})
}

// signIn checks a username and password and starts a session. Failures
// count against the client address's limit of failed authentications
// (shared with the API) and the username's limit of failed sign-ins.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		h.render(w, r, nil, http.StatusBadRequest, "signin.html", signInData{Next: h.cfg.Prefix + "/",
			Errors: map[string]string{"": "The form could not be read."}})
		return
	}
	f := r.PostForm
	d := signInData{Username: f.Get("username"), Next: h.safeNext(f.Get("next"))}
	fail := func(status int, field, msg string) {
		d.Errors = map[string]string{field: msg}
		if !utf8.ValidString(d.Username) || len(d.Username) > maxUsernameLen {
			d.Username = ""
		}
		h.render(w, r, nil, status, "signin.html", d)
	}
	if !h.secureContext(r) {
		d.Insecure = true
		fail(http.StatusForbidden, "", "The console needs HTTPS: over plain HTTP, the browser would not keep the sign-in.")
		return
	}
	username, password := f.Get("username"), f.Get("password")
	switch {
	case username == "":
		fail(http.StatusBadRequest, "username", "Enter your username.")
		return
	case len(username) > maxUsernameLen || !utf8.ValidString(username) || hasControl(username):
		fail(http.StatusBadRequest, "username", fmt.Sprintf("A username is at most %d printable characters.", MaxUsernameLen))
		return
	case password == "":
		fail(http.StatusBadRequest, "password", "Enter your password.")
		return
	case len(password) > maxPasswordLen:
		fail(http.StatusBadRequest, "password", fmt.Sprintf("A password is at most %d bytes.", maxPasswordLen))
		return
	}
	ip, _ := h.cfg.Auth.ClientIP(r)
	if wait, blocked, err := h.cfg.Auth.Blocked(r); blocked {
		if err != nil {
			fail(http.StatusServiceUnavailable, "", "Sign-in is unavailable right now. Try again in a moment.")
			return
		}
		h.failedSignIn(r, ip, username, ReasonTooManyFailures)
		fail(http.StatusTooManyRequests, "", "Too many failed sign-ins from your address. Try again in "+waitText(wait)+".")
		return
	}
	nameKeys := signInKeys(username, ip)
	if h.names != nil {
		for i, lim := range []*ratelimit.FailureLimiter{h.names, h.namesAll} {
			blocked, dec, err := lim.Blocked(r.Context(), nameKeys[i])
			if err != nil {
				fail(http.StatusServiceUnavailable, "", "Sign-in is unavailable right now. Try again in a moment.")
				return
			}
			if blocked {
				h.failedSignIn(r, ip, username, ReasonTooManyFailures)
				fail(http.StatusTooManyRequests, "", "Too many failed sign-ins for this username. Try again in "+waitText(dec.RetryAfter)+".")
				return
			}
		}
	}
	u, err := h.cfg.Users.Authenticate(r.Context(), ip, username, password)
	switch {
	case errors.Is(err, ErrBadCredentials) || errors.Is(err, consolestore.ErrUnknownUser):
		h.cfg.Auth.Failed(r)
		if h.names != nil {
			_, _ = h.names.Failed(r.Context(), nameKeys[0])
			_, _ = h.namesAll.Failed(r.Context(), nameKeys[1])
		}
		h.failedSignIn(r, ip, username, ReasonBadCredentials)
		fail(http.StatusUnauthorized, "", "Wrong username or password.")
		return
	case errors.Is(err, ErrBusy):
		fail(http.StatusServiceUnavailable, "", "The console is busy. Try again in a moment.")
		return
	case err != nil:
		fail(http.StatusServiceUnavailable, "", "Sign-in is unavailable right now. Try again in a moment.")
		return
	}
	id, _, err := h.cfg.Sessions.Start(r.Context(), u.Username)
	if err != nil {
		fail(http.StatusServiceUnavailable, "", "Sign-in is unavailable right now. Try again in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode})
	h.audit(r, ip, ActionSignIn, u.Username, u.Account, "")
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// signOut ends the session on the server and clears the cookie.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if err := h.cfg.Sessions.End(r.Context(), s.sessionID); err != nil {
		h.refuse(w, r, s, http.StatusServiceUnavailable, "The console cannot reach its store right now, and you are still signed in. Try again in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	ip, _ := h.cfg.Auth.ClientIP(r)
	h.audit(r, ip, ActionSignOut, s.User.Username, s.User.Account, "")
	http.Redirect(w, r, h.cfg.Prefix+"/signin", http.StatusSeeOther)
}

// unknownUser stands for the name of a failed sign-in that names no user
// in its audit event: such a name is often a password typed in the wrong
// field, which no audit record may hold. (A username has no space, so no
// user has this name.)
const unknownUser = "(unknown user)"

// failedSignIn records a failed sign-in of username for reason. The
// event names the user, and its account, only when username names one.
func (h *Handler) failedSignIn(r *http.Request, ip netip.Addr, username, reason string) {
	if h.cfg.Audit == nil {
		return
	}
	u, err := h.cfg.Users.Get(r.Context(), username)
	if err != nil {
		h.audit(r, ip, ActionSignInFailed, unknownUser, "", reason)
		return
	}
	h.audit(r, ip, ActionSignInFailed, u.Username, u.Account, reason)
}

// audit records one event of the console.
func (h *Handler) audit(r *http.Request, ip netip.Addr, action, username, account, reason string) {
	if h.cfg.Audit == nil {
		return
	}
	e := audit.Event{Time: h.cfg.Now().UTC(), Action: action, Actor: "console:" + username, Account: account,
		Method: r.Method, Path: r.URL.Path, Reason: reason}
	if ip.IsValid() {
		e.IP = ip.String()
	}
	h.cfg.Audit(r.Context(), e)
}

// signedIn returns the person behind r: its session, user and admin
// caller. It returns an error wrapping ErrNoSession when r has no valid
// session, or the user is unknown or disabled (the session is ended then).
func (h *Handler) signedIn(r *http.Request) (*signedIn, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > maxSessionLen {
		return nil, consolestore.ErrNoSession
	}
	ctx := r.Context()
	sess, err := h.cfg.Sessions.Resume(ctx, c.Value)
	if err != nil {
		return nil, err
	}
	u, err := h.cfg.Users.Get(ctx, sess.Username)
	if errors.Is(err, consolestore.ErrUnknownUser) || err == nil && u.Disabled {
		_ = h.cfg.Sessions.End(ctx, c.Value)
		return nil, consolestore.ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	s := &signedIn{User: u, CSRF: CSRFToken(c.Value), sessionID: c.Value}
	if err := h.caller(r, s); err != nil {
		return nil, err
	}
	return s, nil
}

// caller sets s.Caller. An operator holds its permissions (a list that
// does not parse grants nothing). An account owner is confined to its
// account and holds admin:read, admin:write and what its account's package
// grants a standard key, so that it may give its keys no more than that.
func (h *Handler) caller(r *http.Request, s *signedIn) error {
	u := s.User
	s.Caller = admin.Caller{Principal: keygate.Principal{Method: keygate.MethodConsole, Subject: "console:" + u.Username}}
	switch u.Role {
	case consolestore.RoleOperator:
		g, err := access.NewGrants(u.Permissions, nil, nil)
		if err == nil {
			s.Caller.Grants = g
		}
		return nil
	case consolestore.RoleOwner:
		if u.Account == "" {
			return nil // grants nothing
		}
		s.Caller.Account = u.Account
		s.Caller.Principal.Account = u.Account
		s.Caller.Grants = access.MustNewGrants([]string{admin.PermissionRead}, nil, nil)
		resp := h.cfg.Admin.Do(r.Context(), s.Caller, admin.Request{Method: http.MethodGet, Path: "/accounts/" + url.PathEscape(u.Account)})
		if resp.Err != nil {
			if resp.Status >= 500 {
				return errors.New("console: reading the account: " + resp.Err.Description)
			}
			s.Caller.Grants = access.Grants{} // the account is gone: nothing
			return nil
		}
		if a, ok := resp.Body.(admin.Account); ok {
			s.Package = a.Package
		}
		perms := []string{admin.PermissionRead, admin.PermissionWrite}
		if ps := h.cfg.Auth.Packages(); ps != nil && s.Package != "" {
			perms = append(perms, ps.Permissions(s.Package)...)
		}
		g, err := access.NewGrants(perms, nil, nil)
		if err != nil {
			g = access.MustNewGrants([]string{admin.PermissionRead, admin.PermissionWrite}, nil, nil)
		}
		s.Caller.Grants = g
		return nil
	}
	return nil // an unknown role grants nothing
}

// toSignIn redirects to the sign-in page; a GET comes back to its page
// once signed in.
func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request) {
	to := h.cfg.Prefix + "/signin"
	if r.Method == http.MethodGet {
		if next := r.URL.RequestURI(); next != h.cfg.Prefix+"/" && h.safeNext(next) == next {
			to += "?next=" + url.QueryEscape(next)
		}
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// safeNext returns next when it is a path of the console's own (an
// absolute path under the prefix, without scheme, host, backslash or
// control characters), else the overview: a sign-in never redirects
// elsewhere.
func (h *Handler) safeNext(next string) string {
	home := h.cfg.Prefix + "/"
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, home) || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\") || !printable(next) {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, home) || strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") ||
		strings.HasPrefix(u.Path, h.cfg.Prefix+"/signin") {
		return home
	}
	return next
}

// printable reports whether s is non-empty printable ASCII (spaces allowed).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// hasControl reports whether s holds a control character.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// secureContext reports whether the browser keeps a Secure cookie from r:
// r came over HTTPS (or through a proxy that terminates it,
// Config.TLSTerminated), or the browser reached a loopback host
// (localhost, 127.0.0.0/8, ::1), which browsers treat as secure.
func (h *Handler) secureContext(r *http.Request) bool {
	if r.TLS != nil || h.cfg.TLSTerminated {
		return true
	}
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// waitText is d for people, rounded up to the second or minute.
func waitText(d time.Duration) string {
	switch {
	case d <= time.Second:
		return "1 second"
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int((d+time.Second-1)/time.Second))
	default:
		m := int((d + time.Minute - 1) / time.Minute)
		if m == 1 {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", m)
	}
}

// signInKeys returns the keys failed sign-ins of username from client are
// counted under: the username from the client's address group (an IPv6
// address counts with its /64; see [password.ClientGroup]), and the
// username from everywhere (each in a limiter of its own). The username
// is hashed: a shared limiter (Redis) must not hold a password typed in
// the wrong field.
func signInKeys(username string, client netip.Addr) [2]string {
	sum := sha256.Sum256([]byte(username))
	name := base64.RawURLEncoding.EncodeToString(sum[:])
	return [2]string{password.ClientGroup(client).String() + " " + name, name}
}
