package console

import (
	"net/http"

	"github.com/keygate/keygate/admin"
)

// The tokens page (operators): revoke an access token by its ID (jti),
// every access token of a subject, or a refresh-token family. Each is a
// destructive action, confirmed first.
func (h *Handler) routeTokens() {
	h.page("GET /tokens", operators, h.tokensForm)
	h.page("POST /tokens", operators, h.tokensRevoke)
}

// tokenKinds are the ways to revoke, in the order of the page's forms:
// the form field (the admin member) and what the page calls it.
var tokenKinds = []struct{ Field, Label, Title, Help string }{
	{"jti", "Token ID (jti)", "Revoke an access token", "Denies one access token until it would have expired."},
	{"subject", "Subject", "Revoke a subject's access tokens", "Denies every access token of the subject issued until now."},
	{"family", "Family ID", "Revoke a refresh-token family", "Revokes the refresh-token family and every token issued from it."},
}

// tokensPage is the data of tokens.html.
type tokensPage struct {
	Kinds   []tokenForm
	Done    *admin.TokenRevocation
	Problem problem
}

// tokenForm is one of the page's three forms.
type tokenForm struct {
	Title string
	Field field
}

func (h *Handler) showTokens(w http.ResponseWriter, r *http.Request, s *signedIn, status int, field, value string, done *admin.TokenRevocation, p problem) {
	data := tokensPage{Done: done, Problem: p}
	for _, k := range tokenKinds {
		f := text("revoke", k.Field, k.Label, "")
		f.Help, f.Required = k.Help, true
		if k.Field == field {
			f.Value = value
		}
		data.Kinds = append(data.Kinds, tokenForm{Title: k.Title, Field: withErrors(p, f)[0]})
	}
	h.render(w, r, s, status, "tokens.html", data)
}

func (h *Handler) tokensForm(w http.ResponseWriter, r *http.Request, s *signedIn) {
	h.showTokens(w, r, s, http.StatusOK, "", "", nil, problem{})
}

func (h *Handler) tokensRevoke(w http.ResponseWriter, r *http.Request, s *signedIn) {
	field, value, label := "", "", ""
	for _, k := range tokenKinds {
		if v := r.PostFormValue(k.Field); v != "" && field == "" {
			field, value, label = k.Field, v, k.Label
		}
	}
	if field == "" {
		h.showTokens(w, r, s, http.StatusBadRequest, "", "", nil, problem{Status: http.StatusBadRequest,
			Message: "Fill in one of the fields.", Fields: map[string]string{"jti": "is required", "subject": "is required", "family": "is required"}})
		return
	}
	if r.PostFormValue(confirmField) != "yes" {
		h.confirmed(w, r, s, confirmation{
			Title: "Revoke tokens", Subject: label + ": " + value,
			Message: "Revoking cannot be undone: the tokens are refused from now on.",
			Action:  "/tokens", Button: "Revoke", Cancel: "/tokens",
			Hidden: []hiddenField{{Name: field, Value: value}},
		})
		return
	}
	resp := h.call(r, s, http.MethodPost, "/tokens/revoke", map[string]string{field: value})
	done, ok := result[admin.TokenRevocation](resp)
	if !ok {
		p := refusal(resp, nil)
		if isNotFound(resp) {
			p.Message = "This kind of revocation is not enabled on this server."
		}
		h.showTokens(w, r, s, p.Status, field, value, nil, p)
		return
	}
	h.showTokens(w, r, s, http.StatusOK, "", "", &done, problem{})
}
