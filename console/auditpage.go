package console

import "net/http"

// auditRoutes registers the audit pages.
func (h *Handler) auditRoutes() {
	h.page("GET /audit", anyone, h.auditList)
}

// auditList shows the audit history.
func (h *Handler) auditList(w http.ResponseWriter, r *http.Request, s *signedIn) {
	h.render(w, r, s, http.StatusOK, "audit.html", nil)
}
