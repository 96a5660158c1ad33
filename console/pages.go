package console

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/internal/validate"
)

// routePages registers the resource pages: accounts, keys, review, HMAC
// keys and tokens. Every read and action goes through admin.Do, with the
// signed-in user's Caller: the admin API validates, checks permissions and
// separation of duties, confines owners to their account and records the
// changes; these pages render and map its errors to form errors.
func (h *Handler) routePages() {
	h.routeAccounts()
	h.routeKeys()
	h.routeReview()
	h.routeHMAC()
	h.routeTokens()
}

// result returns resp's result as T: its Body, or the JSON of a replayed
// response (which never holds a one-time secret). ok is false when resp
// is an error or holds something else.
func result[T any](resp admin.Response) (v T, ok bool) {
	if resp.Err != nil {
		return v, false
	}
	if resp.Replayed {
		return v, json.Unmarshal(resp.Raw, &v) == nil
	}
	v, ok = resp.Body.(T)
	return v, ok
}

// idemField is the name of the hidden form field that carries a form's
// Idempotency-Key: a reload or a second submission of the same form
// replays the first response (without its one-time secret) instead of
// creating or rotating again.
const idemField = "idem"

// newIdem returns a fresh form idempotency key: 128 random bits.
func newIdem() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// formIdem returns the form's idempotency key, or a fresh one when the
// field is missing or not one newIdem could have made (then the call is
// simply not deduplicated).
func formIdem(r *http.Request) string {
	k := r.PostFormValue(idemField)
	if len(k) != 22 || !validate.Ident(k) {
		return newIdem()
	}
	return k
}

// seg escapes one path segment of an admin path.
func seg(s string) string { return url.PathEscape(s) }

// validID reports whether id could name a resource; the pages answer 404
// for anything else without asking the admin API.
func validID(id string) bool { return validate.Ident(id) }

// problem is what a page shows about a refused action: the message, the
// form fields' errors, and the status the page is answered with.
type problem struct {
	Status  int
	Message string
	Fields  map[string]string
}

// refusal maps the admin error of resp to what the page shows: a fixed
// message for the code (the admin API's descriptions are fixed sentences
// too, never echoing input), the field errors under the form's field
// names (rename maps an admin member to a form field, such as
// grace_seconds to grace), and the admin status (never 500 for a refusal).
func refusal(resp admin.Response, rename map[string]string) problem {
	e := resp.Err
	if e == nil {
		return problem{Status: http.StatusBadGateway, Message: "The admin API gave an unexpected answer."}
	}
	p := problem{Status: e.Status, Message: e.Description}
	switch e.Code {
	case admin.CodeValidationFailed:
		p.Message = "Some fields are not valid; see below."
	case admin.CodeSeparationOfDuties:
		p.Message = "Separation of duties: you created this key or last set its permissions or package, so another operator must approve it."
	case admin.CodeSelfModification:
		p.Message = "A credential cannot change itself."
	case admin.CodeConflict:
		p.Message = "Not possible in the current state: " + e.Description + "."
	case admin.CodeIdempotencyKeyReused:
		p.Message = "This form was already submitted with other values. Open the form again to make a new request."
	case admin.CodeIdempotencyKeyInUse:
		p.Message = "This form is still being processed; wait a moment and reload."
	case admin.CodeInsufficientScope:
		if len(e.Fields) == 0 {
			p.Message = "You are not allowed to do this."
		} else {
			p.Message = "You cannot give permissions you do not hold yourself; see below."
		}
	case admin.CodeTemporarilyUnavailable:
		p.Message = "A store cannot be reached right now; try again in a moment."
	}
	if len(e.Fields) > 0 {
		p.Fields = make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			if n, ok := rename[k]; ok {
				k = n
			}
			p.Fields[k] = v
		}
	}
	if p.Status == http.StatusInternalServerError || p.Status == 0 {
		p.Status = http.StatusBadGateway
	}
	return p
}

// isNotFound reports whether resp is the admin API's 404: no such
// resource, another account's (for an owner), or a feature the server
// does not have.
func isNotFound(resp admin.Response) bool {
	return resp.Err != nil && resp.Err.Status == http.StatusNotFound
}

// redirect answers a successful form post with 303 See Other to the page
// path (relative to the prefix), so that a reload does not post again.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, h.cfg.Prefix+path, http.StatusSeeOther)
}

// notices are the fixed messages a page shows after a redirect, by the
// value of its "done" query parameter; anything else shows nothing.
var notices = map[string]string{
	"revoked":  "The key was revoked: it is refused from now on.",
	"disabled": "The key was disabled: it is refused until it is enabled again.",
	"enabled":  "The key was enabled.",
	"updated":  "The key was updated.",
	"approved": "The key was approved: it works from now on.",
	"rejected": "The key was rejected (revoked).",
	"package":  "The account's package was changed.",
	"account":  "The account was created.",
	"hrevoked": "The HMAC credential was revoked.",
}

// notice returns the fixed message for the request's "done" parameter.
func notice(r *http.Request) string { return notices[r.URL.Query().Get("done")] }

// splitList splits a form's list field (one item per line, or separated
// by commas or spaces) into its items.
func splitList(s string) []string {
	return append([]string{}, strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' })...)
}

// joinList is the form value of a list: one item per line.
func joinList(list []string) string { return strings.Join(list, "\n") }

// confirmation is the page that asks before a destructive action; without
// JavaScript it is the second step of every Revoke, Disable and Reject.
type confirmation struct {
	Title   string // "Revoke key"
	Message string // what will happen
	Subject string // what it applies to, such as the key's name and ID
	Action  string // the form's action, relative to the prefix
	Button  string // "Revoke"
	Cancel  string // where Cancel leads, relative to the prefix
	Hidden  []hiddenField
}

type hiddenField struct{ Name, Value string }

// confirmField is the hidden field the confirmation page's form adds (and
// the JavaScript confirm dialog, when it shortcuts the page).
const confirmField = "confirmed"

// confirmed reports whether a destructive form post was confirmed; if not,
// it answers with the confirmation page.
func (h *Handler) confirmed(w http.ResponseWriter, r *http.Request, s *signedIn, c confirmation) bool {
	if r.PostFormValue(confirmField) == "yes" {
		return true
	}
	h.render(w, r, s, http.StatusOK, "confirm.html", c)
	return false
}

// refused answers with the error page for a refused read that is not a
// 404: the admin status (never 500 for a refusal) and a fixed message.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, s *signedIn, resp admin.Response) {
	p := refusal(resp, nil)
	h.refuse(w, r, s, p.Status, p.Message)
}

// field is one input of a form, as the partial "p_field" renders it: a
// label, the input, its help and its error (aria-describedby links them).
type field struct {
	ID       string // unique on the page
	Name     string // the form field's name
	Label    string
	Value    string
	Help     string
	Error    string
	Kind     string // "text" (default), "textarea" or "select"
	Options  []option
	Readonly bool
	Required bool
}

// option is one choice of a select field.
type option struct {
	Value, Label string
	Selected     bool
}

// text returns a text field.
func text(form, name, label, value string) field {
	return field{ID: form + "-" + name, Name: name, Label: label, Value: value, Kind: "text"}
}

// textarea returns a multi-line field for a list, one item per line.
func textarea(form, name, label, value, help string) field {
	return field{ID: form + "-" + name, Name: name, Label: label, Value: value, Kind: "textarea", Help: help}
}

// choice returns a select field of the choices (value, label pairs) with
// value selected.
func choice(form, name, label, value string, choices ...string) field {
	f := field{ID: form + "-" + name, Name: name, Label: label, Value: value, Kind: "select"}
	for i := 0; i+1 < len(choices); i += 2 {
		f.Options = append(f.Options, option{Value: choices[i], Label: choices[i+1], Selected: choices[i] == value})
	}
	return f
}

// withErrors sets each field's error from the problem's field errors.
func withErrors(p problem, fs ...field) []field {
	for i := range fs {
		fs[i].Error = p.Fields[fs[i].Name]
	}
	return fs
}

// The choices of the mode, kind and status fields.
var (
	modeChoices   = []string{"test", "Test", "live", "Live"}
	kindChoices   = []string{"", "Pair (publishable and secret)", "pk", "Publishable only", "sk", "Secret only"}
	statusChoices = []string{"", "Any status", "active", "Active", "pending_review", "Pending review", "revoked", "Revoked"}
)

// anyOf prepends the "any" choice of a filter to choices.
func anyOf(label string, choices []string) []string {
	return append([]string{"", label}, choices...)
}

// pageSize is the number of rows of the list pages.
const pageSize = 50

// listing is one page of an admin list, as listPage reads it.
type listing struct {
	Resp admin.Response
	// First is the console path (with the prefix) of the first page, when
	// this is a later one.
	First string
	// Problem is why the admin API refused the list (a bad filter or
	// cursor: 400); OK is false then.
	Problem problem
	OK      bool

	path   string // the console path of the list, with the prefix
	params url.Values
}

// Next is the console path of the page after this one, from its
// next_cursor, or "" for the last page.
func (l listing) Next(cursor string) string {
	if cursor == "" {
		return ""
	}
	return l.page(cursor)
}

// page is the console path of the page at cursor ("": the first) with the
// list's filters.
func (l listing) page(cursor string) string {
	v := maps.Clone(l.params)
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(v) == 0 {
		return l.path
	}
	return l.path + "?" + v.Encode()
}

// listPage calls the admin list at path (the same path as the console's)
// with the filter params and the request's cursor, a page of pageSize.
func (h *Handler) listPage(r *http.Request, s *signedIn, path string, params url.Values) listing {
	if params == nil {
		params = url.Values{}
	}
	l := listing{path: h.cfg.Prefix + path, params: params}
	q := maps.Clone(params)
	q.Set("limit", strconv.Itoa(pageSize))
	if c := r.URL.Query().Get("cursor"); c != "" {
		q.Set("cursor", c)
		l.First = l.page("")
	}
	l.Resp = h.call(r, s, http.MethodGet, path+"?"+q.Encode(), nil)
	if l.Resp.Err != nil {
		l.Problem = refusal(l.Resp, nil)
		if l.Problem.Status == http.StatusBadRequest && len(l.Problem.Fields) == 0 {
			l.Problem.Message = "The filter is not valid: " + l.Resp.Err.Description + "."
		}
		return l
	}
	l.OK = true
	return l
}

// fetch reads the resource of the request's {id} at the admin path
// base+"/"+id. When there is none to show, it answers the 404 page (an ID
// no resource could have, no such resource, or another account's for an
// owner) or the refusal, and returns false.
func fetch[T any](h *Handler, w http.ResponseWriter, r *http.Request, s *signedIn, base string) (T, bool) {
	var zero T
	id := r.PathValue("id")
	if !validID(id) {
		h.notFound(w, r, s)
		return zero, false
	}
	resp := h.call(r, s, http.MethodGet, base+"/"+seg(id), nil)
	v, ok := result[T](resp)
	if !ok {
		if isNotFound(resp) {
			h.notFound(w, r, s)
		} else {
			h.refused(w, r, s, resp)
		}
		return zero, false
	}
	return v, true
}

// button is a form of one button that posts an action, as the partial
// "p_button" renders it. A destructive one (Confirm set) carries the
// empty confirmed field: the JavaScript dialog fills it in, and without
// JavaScript the action answers with its confirmation page.
type button struct {
	Action  string // the form's action, with the prefix
	Label   string
	Class   string // "", "primary" or "danger"
	Confirm string // the question of the JavaScript dialog
	CSRF    string
}

// newButton returns the button posting to the console path (without the
// prefix) for s.
func (h *Handler) newButton(s *signedIn, path, label, class, confirm string) button {
	return button{Action: h.cfg.Prefix + path, Label: label, Class: class, Confirm: confirm, CSRF: s.CSRF}
}
