package console

import "net/http"

// overviewRoutes registers the overview.
func (h *Handler) overviewRoutes() {
	h.page("GET /{$}", anyone, h.overview)
}

// overview shows the traffic and the keys needing attention.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request, s *signedIn) {
	h.render(w, r, s, http.StatusOK, "overview.html", nil)
}
