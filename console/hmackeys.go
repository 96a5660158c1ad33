package console

import (
	"net/http"
	"net/url"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/console/consolestore"
)

// The HMAC credential pages: the list with the create form, the
// credential's page with Rotate and Revoke (after a confirmation), and the
// one-time display of a new or rotated secret.
func (h *Handler) routeHMAC() {
	h.page("GET /hmac-keys", anyone, h.hmacList)
	h.page("POST /hmac-keys", anyone, h.hmacCreate)
	h.page("GET /hmac-keys/{id}", anyone, h.hmacShow)
	h.page("POST /hmac-keys/{id}/rotate", anyone, h.hmacRotate)
	h.page("POST /hmac-keys/{id}/revoke", anyone, h.hmacRevoke)
}

// hmacForm is the create form of an HMAC credential.
type hmacForm struct{ Account, Mode, Name string }

// hmacListPage is the data of hmac_keys.html.
type hmacListPage struct {
	Filter   []field // account and mode
	Owner    bool
	Disabled bool // HMAC credentials are not enabled on this server
	Keys     []*admin.HMACKey
	Next     string
	First    string
	Fields   []field // the create form
	Idem     string
	Notice   string
	Problem  problem // of the create form
	// ListProblem is the list's: a bad filter or cursor.
	ListProblem problem
}

func (h *Handler) hmacList(w http.ResponseWriter, r *http.Request, s *signedIn) {
	f := hmacForm{Mode: "test"}
	if s.User.Role == consolestore.RoleOwner {
		f.Account = s.User.Account
	} else {
		f.Account = r.URL.Query().Get("account")
	}
	h.showHMAC(w, r, s, http.StatusOK, f, problem{})
}

// showHMAC renders the list of the request's filter, with the create form
// f and its problem.
func (h *Handler) showHMAC(w http.ResponseWriter, r *http.Request, s *signedIn, status int, f hmacForm, p problem) {
	q := r.URL.Query()
	owner := s.User.Role == consolestore.RoleOwner
	filter := hmacForm{Account: q.Get("account"), Mode: q.Get("mode")}
	if owner {
		filter.Account = s.User.Account
	}
	data := hmacListPage{Owner: owner, Idem: formIdem(r), Notice: notice(r), Problem: p}
	data.Filter = []field{choice("filter", "mode", "Mode", filter.Mode, anyOf("Any mode", modeChoices)...)}
	if !owner {
		data.Filter = append([]field{text("filter", "account", "Account", filter.Account)}, data.Filter...)
	}
	acct := text("create", "account", "Account", f.Account)
	acct.Required = true
	acct.Readonly = owner
	data.Fields = withErrors(p, acct, choice("create", "mode", "Mode", f.Mode, modeChoices...), text("create", "name", "Name", f.Name))
	params := url.Values{}
	if filter.Account != "" {
		params.Set("account", filter.Account)
	}
	if filter.Mode != "" {
		params.Set("mode", filter.Mode)
	}
	l := h.listPage(r, s, "/hmac-keys", params)
	switch {
	case l.OK:
		list, _ := result[admin.List[*admin.HMACKey]](l.Resp)
		data.Keys, data.Next, data.First = list.Data, l.Next(list.NextCursor), l.First
	case isNotFound(l.Resp):
		data.Disabled = true
	default:
		data.ListProblem = l.Problem
		if status == http.StatusOK {
			status = l.Problem.Status
		}
	}
	h.render(w, r, s, status, "hmac_keys.html", data)
}

// hmacCreatedPage is the data of hmac_created.html.
type hmacCreatedPage struct {
	Key      *admin.HMACKey
	Rotated  bool
	Replayed bool
}

func (h *Handler) hmacCreate(w http.ResponseWriter, r *http.Request, s *signedIn) {
	f := hmacForm{Account: r.PostFormValue("account"), Mode: r.PostFormValue("mode"), Name: r.PostFormValue("name")}
	if s.User.Role == consolestore.RoleOwner && f.Account == "" {
		f.Account = s.User.Account
	}
	resp := h.callKey(r, s, http.MethodPost, "/hmac-keys", map[string]string{"account": f.Account, "mode": f.Mode, "name": f.Name}, formIdem(r))
	k, ok := result[*admin.HMACKey](resp)
	if !ok {
		if isNotFound(resp) {
			h.notFound(w, r, s)
			return
		}
		p := refusal(resp, nil)
		h.showHMAC(w, r, s, p.Status, f, p)
		return
	}
	h.render(w, r, s, http.StatusCreated, "hmac_created.html", hmacCreatedPage{Key: k, Replayed: resp.Replayed})
}

// hmacPage is the data of hmac_key.html.
type hmacPage struct {
	Key     *admin.HMACKey
	Rotate  rotateForm
	Revoke  button
	Notice  string
	Problem problem
}

// getHMAC reads the credential of the request's {id}, or answers the 404
// page (or the error) and returns false.
func (h *Handler) getHMAC(w http.ResponseWriter, r *http.Request, s *signedIn) (*admin.HMACKey, bool) {
	return fetch[*admin.HMACKey](h, w, r, s, "/hmac-keys")
}

func (h *Handler) hmacShow(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if k, ok := h.getHMAC(w, r, s); ok {
		h.showHMACKey(w, r, s, k, http.StatusOK, "", problem{})
	}
}

// showHMACKey renders the page of the credential k, with p (a refused
// action) and the rotate form's grace value.
func (h *Handler) showHMACKey(w http.ResponseWriter, r *http.Request, s *signedIn, k *admin.HMACKey, status int, grace string, p problem) {
	path := "/hmac-keys/" + seg(k.ID)
	h.render(w, r, s, status, "hmac_key.html", hmacPage{Key: k, Notice: notice(r), Problem: p,
		Rotate: h.newRotateForm(s, path+"/rotate", grace, p),
		Revoke: h.newButton(s, path+"/revoke", "Revoke", "danger", "Revoke this HMAC credential? This cannot be undone.")})
}

// hmacRefused answers a refused action on a credential: the 404 page, or
// its page with the problem.
func (h *Handler) hmacRefused(w http.ResponseWriter, r *http.Request, s *signedIn, p problem, grace string) {
	if k, ok := h.getHMAC(w, r, s); ok {
		h.showHMACKey(w, r, s, k, p.Status, grace, p)
	}
}

func (h *Handler) hmacRotate(w http.ResponseWriter, r *http.Request, s *signedIn) {
	id := r.PathValue("id")
	if !validID(id) {
		h.notFound(w, r, s)
		return
	}
	grace := r.PostFormValue("grace")
	secs, ok := graceSeconds(grace)
	if !ok {
		h.hmacRefused(w, r, s, problem{Status: http.StatusBadRequest, Message: "Some fields are not valid; see below.",
			Fields: map[string]string{"grace": msgGrace}}, grace)
		return
	}
	resp := h.callKey(r, s, http.MethodPost, "/hmac-keys/"+seg(id)+"/rotate", map[string]int64{"grace_seconds": secs}, formIdem(r))
	k, ok := result[*admin.HMACKey](resp)
	if !ok {
		if isNotFound(resp) {
			h.notFound(w, r, s)
			return
		}
		h.hmacRefused(w, r, s, refusal(resp, graceRename), grace)
		return
	}
	h.render(w, r, s, http.StatusOK, "hmac_created.html", hmacCreatedPage{Key: k, Rotated: true, Replayed: resp.Replayed})
}

func (h *Handler) hmacRevoke(w http.ResponseWriter, r *http.Request, s *signedIn) {
	id := r.PathValue("id")
	if !validID(id) {
		h.notFound(w, r, s)
		return
	}
	if r.PostFormValue(confirmField) != "yes" {
		k, ok := h.getHMAC(w, r, s)
		if !ok {
			return
		}
		label := k.ID
		if k.Name != "" {
			label = k.Name + " (" + k.ID + ")"
		}
		h.confirmed(w, r, s, confirmation{
			Title: "Revoke HMAC credential", Subject: label,
			Message: "Revoking is permanent: every request signed with this credential is refused from now on.",
			Action:  "/hmac-keys/" + seg(k.ID) + "/revoke", Button: "Revoke", Cancel: "/hmac-keys/" + seg(k.ID),
		})
		return
	}
	resp := h.call(r, s, http.MethodPost, "/hmac-keys/"+seg(id)+"/revoke", nil)
	if resp.Err != nil {
		if isNotFound(resp) {
			h.notFound(w, r, s)
			return
		}
		h.hmacRefused(w, r, s, refusal(resp, nil), "")
		return
	}
	h.redirect(w, r, "/hmac-keys/"+seg(id)+"?done=hrevoked")
}
