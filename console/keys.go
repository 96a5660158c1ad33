package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console/consolestore"
)

// The key pages: the list with its filters, the key page with its audit
// trail, usage chart and actions, the create form and its one-time result,
// rotation (one-time result too), revocation, disabling and enabling (the
// destructive ones through a confirmation page), and the edit form.
func (h *Handler) routeKeys() {
	h.page("GET /keys", anyone, h.keysList)
	h.page("GET /keys/new", anyone, h.keyNew)
	h.page("POST /keys/new", anyone, h.keyCreate)
	h.page("GET /keys/{id}", anyone, h.keyShow)
	h.page("GET /keys/{id}/edit", anyone, h.keyEdit)
	h.page("POST /keys/{id}/edit", anyone, h.keyUpdate)
	h.page("POST /keys/{id}/rotate", anyone, h.keyRotate)
	h.page("POST /keys/{id}/revoke", anyone, h.keyRevoke)
	h.page("POST /keys/{id}/disable", anyone, h.keyDisable)
	h.page("POST /keys/{id}/enable", anyone, h.keyEnable)
}

// keyFilter is the key list's filter form.
type keyFilter struct {
	Account, Mode, Kind, Status string
}

// keysPage is the data of keys.html.
type keysPage struct {
	Filter  []field
	Owner   bool
	Keys    []*admin.Key
	Next    string // the next page's path, or ""
	First   string // the first page's path, when this is a later one
	Notice  string
	Problem problem
}

func (h *Handler) keysList(w http.ResponseWriter, r *http.Request, s *signedIn) {
	q := r.URL.Query()
	f := keyFilter{Account: q.Get("account"), Mode: q.Get("mode"), Kind: q.Get("kind"), Status: q.Get("status")}
	owner := s.User.Role == consolestore.RoleOwner
	if owner {
		f.Account = s.User.Account
	}
	data := keysPage{Owner: owner, Filter: []field{
		choice("filter", "mode", "Mode", f.Mode, anyOf("Any mode", modeChoices)...),
		choice("filter", "kind", "Kind", f.Kind, "", "Any kind", "pk", "Publishable", "sk", "Secret"),
		choice("filter", "status", "Status", f.Status, statusChoices...),
	}}
	if !owner {
		data.Filter = append([]field{text("filter", "account", "Account", f.Account)}, data.Filter...)
	}
	params := url.Values{}
	for _, p := range []struct{ name, v string }{{"account", f.Account}, {"mode", f.Mode}, {"kind", f.Kind}, {"status", f.Status}} {
		if p.v != "" {
			params.Set(p.name, p.v)
		}
	}
	l := h.listPage(r, s, "/keys", params)
	if !l.OK {
		data.Problem = l.Problem
		h.render(w, r, s, l.Problem.Status, "keys.html", data)
		return
	}
	list, _ := result[admin.List[*admin.Key]](l.Resp)
	data.Keys, data.Next, data.First = list.Data, l.Next(list.NextCursor), l.First
	h.render(w, r, s, http.StatusOK, "keys.html", data)
}

// keyForm is the create-key form.
type keyForm struct {
	Account, Mode, Kind, Name, Permissions string
}

// keyNewPage is the data of key_new.html.
type keyNewPage struct {
	Fields  []field
	Owner   bool
	Idem    string
	Problem problem
}

// newKeyPage is the create-key form with f's values and p's errors.
func newKeyPage(f keyForm, owner bool, idem string, p problem) keyNewPage {
	acct := text("new", "account", "Account", f.Account)
	acct.Required = true
	if owner {
		acct.Readonly = true
		acct.Help = "Your account."
	}
	name := text("new", "name", "Name", f.Name)
	name.Help = "Optional: what the key is for, such as \"web shop\"."
	mode := choice("new", "mode", "Mode", f.Mode, modeChoices...)
	mode.Help = "Live keys work only after an operator approves them (the request for live activation)."
	return keyNewPage{Owner: owner, Idem: idem, Problem: p, Fields: withErrors(p, acct, mode,
		choice("new", "kind", "Kind", f.Kind, kindChoices...), name,
		textarea("new", "permissions", "Permissions", f.Permissions,
			"Optional, one per line, such as orders:read. None: the key may do what the account's package grants."))}
}

func (h *Handler) keyNew(w http.ResponseWriter, r *http.Request, s *signedIn) {
	q := r.URL.Query()
	f := keyForm{Account: q.Get("account"), Mode: q.Get("mode")}
	if f.Mode == "" {
		f.Mode = "test"
	}
	owner := s.User.Role == consolestore.RoleOwner
	if owner {
		f.Account = s.User.Account
	}
	h.render(w, r, s, http.StatusOK, "key_new.html", newKeyPage(f, owner, newIdem(), problem{}))
}

// keyCreatedPage is the data of key_created.html: the one-time display of
// new keys (or of a rotated key's new secret), or, for a replayed form,
// the keys without their plaintext.
type keyCreatedPage struct {
	Keys     []*admin.Key
	Rotated  bool
	Replayed bool
	Pending  bool // a live key waiting for review
}

func (h *Handler) keyCreate(w http.ResponseWriter, r *http.Request, s *signedIn) {
	f := keyForm{Account: r.PostFormValue("account"), Mode: r.PostFormValue("mode"), Kind: r.PostFormValue("kind"),
		Name: r.PostFormValue("name"), Permissions: r.PostFormValue("permissions")}
	owner := s.User.Role == consolestore.RoleOwner
	if owner && f.Account == "" {
		f.Account = s.User.Account
	}
	body := map[string]any{"account": f.Account, "mode": f.Mode, "name": f.Name}
	if f.Kind != "" {
		body["kind"] = f.Kind
	}
	if perms := splitList(f.Permissions); len(perms) > 0 {
		body["permissions"] = perms
	}
	idem := formIdem(r)
	resp := h.callKey(r, s, http.MethodPost, "/keys", body, idem)
	pair, ok := result[admin.KeyPair](resp)
	if !ok {
		if isNotFound(resp) {
			h.notFound(w, r, s)
			return
		}
		p := refusal(resp, nil)
		h.render(w, r, s, p.Status, "key_new.html", newKeyPage(f, owner, idem, p))
		return
	}
	data := keyCreatedPage{Replayed: resp.Replayed}
	for _, k := range []*admin.Key{pair.Publishable, pair.Secret} {
		if k != nil {
			data.Keys = append(data.Keys, k)
			data.Pending = data.Pending || k.Status == "pending_review"
		}
	}
	h.render(w, r, s, http.StatusCreated, "key_created.html", data)
}

// keyPage is the data of key.html.
type keyPage struct {
	Key       *admin.Key
	Events    []audit.Event
	AuditNote string // why there is no trail
	// Usage is the key's requests of the last 24 hours; UsageNote says
	// why there is no chart.
	Usage     *chart
	UsageNote string
	Rotate    rotateForm
	Actions   []button // beside Rotate and Edit
	Notice    string
	Problem   problem
}

// keyAuditLimit is the number of events on the key page's trail.
const keyAuditLimit = 20

// getKey reads the key of the request's {id}; it answers the 404 page (no
// such key, or another account's for an owner) or the error itself, and
// returns false, when there is none to show.
func (h *Handler) getKey(w http.ResponseWriter, r *http.Request, s *signedIn) (*admin.Key, bool) {
	return fetch[*admin.Key](h, w, r, s, "/keys")
}

func (h *Handler) keyShow(w http.ResponseWriter, r *http.Request, s *signedIn) {
	k, ok := h.getKey(w, r, s)
	if !ok {
		return
	}
	h.showKey(w, r, s, k, http.StatusOK, problem{}, "")
}

// showKey renders the key page of k, with p (a refused action) and the
// rotate form's grace value.
func (h *Handler) showKey(w http.ResponseWriter, r *http.Request, s *signedIn, k *admin.Key, status int, p problem, grace string) {
	path := "/keys/" + seg(k.ID)
	data := keyPage{Key: k, Rotate: h.newRotateForm(s, path+"/rotate", grace, p), Notice: notice(r), Problem: p}
	if k.Disabled {
		data.Actions = append(data.Actions, h.newButton(s, path+"/enable", "Enable", "", ""))
	} else {
		data.Actions = append(data.Actions, h.newButton(s, path+"/disable", "Disable", "",
			"Disable this key? Every request with it is refused until it is enabled again."))
	}
	if k.Status == "pending_review" && s.User.Role == consolestore.RoleOperator {
		data.Actions = append(data.Actions, h.newButton(s, "/review/"+seg(k.ID)+"/approve", "Approve", "primary", ""))
	}
	data.Actions = append(data.Actions, h.newButton(s, path+"/revoke", "Revoke", "danger", "Revoke this key? This cannot be undone."))
	data.Events, data.AuditNote = h.recentEvents(r, s, url.Values{"key_id": {k.ID}}, keyAuditLimit)
	data.Usage, data.UsageNote = h.keyUsage(r, k)
	h.render(w, r, s, status, "key.html", data)
}

// keyUsage draws the requests of the key k (read through the admin API
// first, so the caller may see it) over the last 24 hours, hourly, or says
// why there is no chart.
func (h *Handler) keyUsage(r *http.Request, k *admin.Key) (*chart, string) {
	if h.cfg.Summary == nil {
		return nil, "Usage charts are not enabled on this server."
	}
	now := h.cfg.Now().UTC()
	start := now.Add(-24 * time.Hour).Truncate(time.Hour).Add(time.Hour)
	sum, err := h.cfg.Summary.Summarize(r.Context(), audit.SummaryQuery{Since: start, Until: now, Bucket: time.Hour, KeyID: k.ID})
	if err != nil {
		return nil, "The usage cannot be read right now."
	}
	c := newChart("Requests with this key, last 24 hours", "chart-key-day", start, time.Hour, 24, k.Mode, sum.Buckets, "15h")
	return &c, ""
}

// recentEvents reads the newest limit audit events matching filter, or
// says why there are none to show.
func (h *Handler) recentEvents(r *http.Request, s *signedIn, filter url.Values, limit int) ([]audit.Event, string) {
	filter.Set("limit", strconv.Itoa(limit))
	resp := h.call(r, s, http.MethodGet, "/audit?"+filter.Encode(), nil)
	list, ok := result[admin.List[audit.Event]](resp)
	switch {
	case ok && len(list.Data) == 0:
		return nil, "No events yet."
	case ok:
		return list.Data, ""
	case isNotFound(resp):
		return nil, "The audit history is not enabled on this server."
	}
	return nil, "The audit history cannot be read right now."
}

// graceSeconds parses the rotate form's grace field: a Go duration such as
// "1h" or "90s", or a number of seconds; empty is 0.
func graceSeconds(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, n >= 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d%time.Second != 0 {
		return 0, false
	}
	return int64(d / time.Second), true
}

// rotateForm is the Rotate form of a key's or HMAC credential's page, as
// the partial "p_rotate" renders it.
type rotateForm struct {
	Action string // with the prefix
	CSRF   string
	Idem   string
	Grace  field
}

// newRotateForm is the Rotate form posting to path (without the prefix),
// with the grace value and p's error.
func (h *Handler) newRotateForm(s *signedIn, path, grace string, p problem) rotateForm {
	f := text("rotate", "grace", "Grace period", grace)
	f.Help = "How long the old secret keeps working: a duration such as 1h or 90s, or seconds; 0 or empty ends it now."
	return rotateForm{Action: h.cfg.Prefix + path, CSRF: s.CSRF, Idem: newIdem(), Grace: withErrors(p, f)[0]}
}

const msgGrace = "must be a duration such as 1h or 90s, or a number of seconds, from 0 to 30 days"

// graceRename maps the admin member of the grace period to the form field.
var graceRename = map[string]string{"grace_seconds": "grace"}

func (h *Handler) keyRotate(w http.ResponseWriter, r *http.Request, s *signedIn) {
	id := r.PathValue("id")
	if !validID(id) {
		h.notFound(w, r, s)
		return
	}
	grace := r.PostFormValue("grace")
	secs, ok := graceSeconds(grace)
	if !ok {
		// A form error, shown on the key page (read as the caller).
		if k, ok := h.getKey(w, r, s); ok {
			h.showKey(w, r, s, k, http.StatusBadRequest, problem{Status: http.StatusBadRequest,
				Message: "Some fields are not valid; see below.", Fields: map[string]string{"grace": msgGrace}}, grace)
		}
		return
	}
	resp := h.callKey(r, s, http.MethodPost, "/keys/"+seg(id)+"/rotate", map[string]int64{"grace_seconds": secs}, formIdem(r))
	k, ok := result[*admin.Key](resp)
	if !ok {
		h.keyRefused(w, r, s, resp, graceRename, grace)
		return
	}
	h.render(w, r, s, http.StatusOK, "key_created.html", keyCreatedPage{Keys: []*admin.Key{k}, Rotated: true, Replayed: resp.Replayed})
}

// keyRefused answers a refused key action: the 404 page, or the key page
// with the refusal.
func (h *Handler) keyRefused(w http.ResponseWriter, r *http.Request, s *signedIn, resp admin.Response, rename map[string]string, grace string) {
	if isNotFound(resp) {
		h.notFound(w, r, s)
		return
	}
	p := refusal(resp, rename)
	if k, ok := h.getKey(w, r, s); ok {
		h.showKey(w, r, s, k, p.Status, p, grace)
	}
}

// keyAction posts the admin action (revoke, disable, enable) on the key
// of the request's {id} and redirects to the key page with done.
func (h *Handler) keyAction(w http.ResponseWriter, r *http.Request, s *signedIn, action, done string) {
	id := r.PathValue("id")
	resp := h.call(r, s, http.MethodPost, "/keys/"+seg(id)+"/"+action, nil)
	if resp.Err != nil {
		h.keyRefused(w, r, s, resp, nil, "")
		return
	}
	h.redirect(w, r, "/keys/"+seg(id)+"?done="+done)
}

// confirmKey asks before the destructive action on the key of the
// request's {id}; it returns true once confirmed.
func (h *Handler) confirmKey(w http.ResponseWriter, r *http.Request, s *signedIn, action, button, message string) bool {
	if r.PostFormValue(confirmField) == "yes" {
		if !validID(r.PathValue("id")) {
			h.notFound(w, r, s)
			return false
		}
		return true
	}
	k, ok := h.getKey(w, r, s)
	if !ok {
		return false
	}
	return h.confirmed(w, r, s, confirmation{
		Title: button + " key", Message: message, Subject: keyLabel(k),
		Action: "/keys/" + seg(k.ID) + "/" + action, Button: button, Cancel: "/keys/" + seg(k.ID),
	})
}

// keyLabel names a key on a confirmation page: its name and ID.
func keyLabel(k *admin.Key) string {
	if k.Name == "" {
		return k.ID
	}
	return k.Name + " (" + k.ID + ")"
}

func (h *Handler) keyRevoke(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if h.confirmKey(w, r, s, "revoke", "Revoke",
		"Revoking is permanent: every request with this key is refused from now on, and it cannot be enabled again.") {
		h.keyAction(w, r, s, "revoke", "revoked")
	}
}

func (h *Handler) keyDisable(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if h.confirmKey(w, r, s, "disable", "Disable",
		"Disabling stops the key at once: every request with it is refused until it is enabled again.") {
		h.keyAction(w, r, s, "disable", "disabled")
	}
}

func (h *Handler) keyEnable(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if !validID(r.PathValue("id")) {
		h.notFound(w, r, s)
		return
	}
	h.keyAction(w, r, s, "enable", "enabled")
}

// keyEditForm is the edit-key form: lists one item per line.
type keyEditForm struct {
	Name, Permissions, Stores, AllowedIPs, DeniedIPs, AllowedCountries, DeniedCountries, Expires string
}

// keyEditPage is the data of key_edit.html.
type keyEditPage struct {
	Key     *admin.Key
	Fields  []field
	Problem problem
}

// editPage is the edit form of k with f's values and p's errors.
func editPage(k *admin.Key, f keyEditForm, p problem) keyEditPage {
	const one = "One per line."
	exp := text("edit", "expires", "Expires", f.Expires)
	exp.Help = "An RFC 3339 time such as 2030-12-31T23:59:59Z; empty: never."
	return keyEditPage{Key: k, Problem: p, Fields: withErrors(p,
		text("edit", "name", "Name", f.Name),
		textarea("edit", "permissions", "Permissions", f.Permissions, one+" None: what the package grants."),
		textarea("edit", "stores", "Stores", f.Stores, one+" None: every store."),
		textarea("edit", "allowed_ips", "Allowed IPs", f.AllowedIPs, one+" Addresses or CIDR prefixes; none: any."),
		textarea("edit", "denied_ips", "Denied IPs", f.DeniedIPs, one),
		textarea("edit", "allowed_countries", "Allowed countries", f.AllowedCountries, one+" ISO codes such as DE; none: any."),
		textarea("edit", "denied_countries", "Denied countries", f.DeniedCountries, one),
		exp)}
}

func editForm(k *admin.Key) keyEditForm {
	f := keyEditForm{Name: k.Name, Permissions: joinList(k.Permissions), Stores: joinList(k.Stores),
		AllowedIPs: joinList(k.AllowedIPs), DeniedIPs: joinList(k.DeniedIPs),
		AllowedCountries: joinList(k.AllowedCountries), DeniedCountries: joinList(k.DeniedCountries)}
	if !k.Expires.IsZero() {
		f.Expires = k.Expires.UTC().Format(time.RFC3339)
	}
	return f
}

func (h *Handler) keyEdit(w http.ResponseWriter, r *http.Request, s *signedIn) {
	k, ok := h.getKey(w, r, s)
	if !ok {
		return
	}
	h.render(w, r, s, http.StatusOK, "key_edit.html", editPage(k, editForm(k), problem{}))
}

// keyUpdate sends only what the form changed (a field the post lacks is
// unchanged), so that an edit of the name does not count as setting the
// permissions (which separation of duties remembers).
func (h *Handler) keyUpdate(w http.ResponseWriter, r *http.Request, s *signedIn) {
	k, ok := h.getKey(w, r, s)
	if !ok {
		return
	}
	f := editForm(k)
	for name, dst := range map[string]*string{"name": &f.Name, "permissions": &f.Permissions, "stores": &f.Stores,
		"allowed_ips": &f.AllowedIPs, "denied_ips": &f.DeniedIPs, "allowed_countries": &f.AllowedCountries,
		"denied_countries": &f.DeniedCountries, "expires": &f.Expires} {
		if vs, ok := r.PostForm[name]; ok {
			*dst = vs[0]
		}
	}
	f.Expires = strings.TrimSpace(f.Expires)
	body := map[string]any{}
	if f.Name != k.Name {
		body["name"] = f.Name
	}
	for _, l := range []struct {
		member  string
		form    string
		current []string
	}{
		{"permissions", f.Permissions, k.Permissions}, {"stores", f.Stores, k.Stores},
		{"allowed_ips", f.AllowedIPs, k.AllowedIPs}, {"denied_ips", f.DeniedIPs, k.DeniedIPs},
		{"allowed_countries", f.AllowedCountries, k.AllowedCountries}, {"denied_countries", f.DeniedCountries, k.DeniedCountries},
	} {
		if v := splitList(l.form); !slices.Equal(v, l.current) {
			body[l.member] = v
		}
	}
	switch cur := editForm(k).Expires; {
	case f.Expires == cur:
	case f.Expires == "":
		body["expires"] = nil
	default:
		body["expires"] = f.Expires
	}
	if len(body) == 0 {
		h.redirect(w, r, "/keys/"+seg(k.ID))
		return
	}
	resp := h.call(r, s, http.MethodPatch, "/keys/"+seg(k.ID), body)
	if resp.Err != nil {
		if isNotFound(resp) {
			h.notFound(w, r, s)
			return
		}
		p := refusal(resp, nil)
		h.render(w, r, s, p.Status, "key_edit.html", editPage(k, f, p))
		return
	}
	h.redirect(w, r, "/keys/"+seg(k.ID)+"?done=updated")
}
