package console

import (
	"net/http"
	"net/url"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console/consolestore"
)

// The account pages: the list with search, pagination and the create form
// (operators), and the account page with its keys per mode and kind, its
// HMAC credentials, its recent activity and the package form (operators).
func (h *Handler) routeAccounts() {
	h.page("GET /accounts", anyone, h.accountsList)
	h.page("POST /accounts", operators, h.accountCreate)
	h.page("GET /accounts/{id}", anyone, h.accountShow)
	h.page("POST /accounts/{id}/package", operators, h.accountPackage)
}

// accountForm is the create-account form.
type accountForm struct{ ID, Name, Package string }

// accountsPage is the data of accounts.html.
type accountsPage struct {
	Query       string
	Operator    bool
	Accounts    []admin.Account
	Next        string
	First       string
	Search      field
	Fields      []field // the create form
	Idem        string
	Notice      string
	Problem     problem // of the create form
	ListProblem problem // of the list (a bad search or cursor)
}

func (h *Handler) accountsList(w http.ResponseWriter, r *http.Request, s *signedIn) {
	h.showAccounts(w, r, s, http.StatusOK, accountForm{}, problem{})
}

// showAccounts renders the account list (the request's search and page)
// with the create form f and its problem.
func (h *Handler) showAccounts(w http.ResponseWriter, r *http.Request, s *signedIn, status int, f accountForm, p problem) {
	data := accountsPage{Query: r.URL.Query().Get("q"), Operator: s.User.Role == consolestore.RoleOperator, Problem: p, Notice: notice(r), Idem: formIdem(r)}
	data.Search = text("search", "q", "Search", data.Query)
	data.Search.Help = "Part of an account's ID or name."
	id := text("create", "id", "ID", f.ID)
	id.Help = "Optional; made up when empty."
	name := text("create", "name", "Name", f.Name)
	name.Required = true
	pkg := text("create", "package", "Package", f.Package)
	pkg.Help = "Optional: the service's package for the account."
	data.Fields = withErrors(p, id, name, pkg)
	params := url.Values{}
	if data.Query != "" {
		params.Set("q", data.Query)
	}
	l := h.listPage(r, s, "/accounts", params)
	if !l.OK {
		data.ListProblem = l.Problem
		if status == http.StatusOK {
			status = l.Problem.Status
		}
	} else {
		list, _ := result[admin.List[admin.Account]](l.Resp)
		data.Accounts, data.Next, data.First = list.Data, l.Next(list.NextCursor), l.First
	}
	h.render(w, r, s, status, "accounts.html", data)
}

func (h *Handler) accountCreate(w http.ResponseWriter, r *http.Request, s *signedIn) {
	f := accountForm{ID: r.PostFormValue("id"), Name: r.PostFormValue("name"), Package: r.PostFormValue("package")}
	body := map[string]string{"name": f.Name}
	if f.ID != "" {
		body["id"] = f.ID
	}
	if f.Package != "" {
		body["package"] = f.Package
	}
	resp := h.callKey(r, s, http.MethodPost, "/accounts", body, formIdem(r))
	a, ok := result[admin.Account](resp)
	if !ok {
		p := refusal(resp, nil)
		if resp.Err != nil && resp.Err.Code == admin.CodeConflict {
			p.Fields = map[string]string{"id": "an account with this ID already exists"}
		}
		h.showAccounts(w, r, s, p.Status, f, p)
		return
	}
	h.redirect(w, r, "/accounts/"+seg(a.ID)+"?done=account")
}

// accountKeys are an account's keys of one mode, publishable and secret.
type accountKeys struct {
	Mode   string // "Test" or "Live"
	Value  string // "test" or "live"
	Groups [2]keyGroup
}

// keyGroup are the keys of one kind.
type keyGroup struct {
	Label string // "Publishable keys" or "Secret keys"
	Keys  []*admin.Key
}

// accountPage is the data of account.html.
type accountPage struct {
	Account   admin.Account
	Operator  bool
	Modes     []accountKeys
	MoreKeys  bool // the account has more keys than shown
	HMAC      []*admin.HMACKey
	HMACNote  string
	MoreHMAC  bool
	Events    []audit.Event
	AuditNote string
	Package   field // the package form
	Notice    string
	Problem   problem
}

// accountAuditLimit is the number of recent events on the account page.
const accountAuditLimit = 10

func (h *Handler) accountShow(w http.ResponseWriter, r *http.Request, s *signedIn) {
	h.showAccount(w, r, s, http.StatusOK, "", problem{})
}

// showAccount renders the account page of the request's {id}, with the
// package form's value and problem.
func (h *Handler) showAccount(w http.ResponseWriter, r *http.Request, s *signedIn, status int, pkg string, p problem) {
	a, ok := fetch[admin.Account](h, w, r, s, "/accounts")
	if !ok {
		return
	}
	if p.Status == 0 {
		pkg = a.Package
	}
	data := accountPage{Account: a, Operator: s.User.Role == consolestore.RoleOperator, Notice: notice(r), Problem: p,
		Package: withErrors(p, text("package", "package", "Package", pkg))[0]}
	q := url.Values{"account": {a.ID}, "limit": {"100"}}.Encode()
	keys, _ := result[admin.List[*admin.Key]](h.call(r, s, http.MethodGet, "/keys?"+q, nil))
	data.MoreKeys = keys.NextCursor != ""
	for _, m := range []struct{ mode, label string }{{"test", "Test"}, {"live", "Live"}} {
		ak := accountKeys{Mode: m.label, Value: m.mode, Groups: [2]keyGroup{{Label: "Publishable keys"}, {Label: "Secret keys"}}}
		for _, k := range keys.Data {
			switch {
			case k.Mode != m.mode:
			case k.Kind == "pk":
				ak.Groups[0].Keys = append(ak.Groups[0].Keys, k)
			default:
				ak.Groups[1].Keys = append(ak.Groups[1].Keys, k)
			}
		}
		data.Modes = append(data.Modes, ak)
	}
	hresp := h.call(r, s, http.MethodGet, "/hmac-keys?"+q, nil)
	if hk, ok := result[admin.List[*admin.HMACKey]](hresp); ok {
		data.HMAC, data.MoreHMAC = hk.Data, hk.NextCursor != ""
	} else if isNotFound(hresp) {
		data.HMACNote = "HMAC credentials are not enabled on this server."
	} else {
		data.HMACNote = "The HMAC credentials cannot be read right now."
	}
	data.Events, data.AuditNote = h.recentEvents(r, s, url.Values{"account": {a.ID}}, accountAuditLimit)
	h.render(w, r, s, status, "account.html", data)
}

func (h *Handler) accountPackage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	id := r.PathValue("id")
	if !validID(id) {
		h.notFound(w, r, s)
		return
	}
	pkg := r.PostFormValue("package")
	resp := h.call(r, s, http.MethodPatch, "/accounts/"+seg(id), map[string]string{"package": pkg})
	if resp.Err != nil {
		if isNotFound(resp) {
			h.notFound(w, r, s)
			return
		}
		p := refusal(resp, nil)
		if len(p.Fields) == 0 && resp.Err.Status == http.StatusBadRequest {
			p.Fields = map[string]string{"package": "is not valid"}
		}
		h.showAccount(w, r, s, p.Status, pkg, p)
		return
	}
	h.redirect(w, r, "/accounts/"+seg(id)+"?done=package")
}
