package console

import (
	"net/http"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/console/consolestore"
)

// TestSignedIn shows a page's signedIn to the external tests.
type TestSignedIn struct {
	User    consolestore.User
	Caller  admin.Caller
	Package string
	CSRF    string
	// Call is h.call for this request.
	Call func(method, path string, body any) admin.Response
}

// AddTestPage registers fn through page, for operators only or anyone.
func (h *Handler) AddTestPage(pattern string, operatorsOnly bool, fn func(w http.ResponseWriter, r *http.Request, s TestSignedIn)) {
	need := anyone
	if operatorsOnly {
		need = operators
	}
	h.page(pattern, need, func(w http.ResponseWriter, r *http.Request, s *signedIn) {
		fn(w, r, TestSignedIn{User: s.User, Caller: s.Caller, Package: s.Package, CSRF: s.CSRF,
			Call: func(method, path string, body any) admin.Response { return h.call(r, s, method, path, body) }})
	})
}
