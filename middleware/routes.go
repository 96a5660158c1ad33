package middleware

import "net/http"

// Route is one line of a service's route table: a ServeMux pattern
// ("POST /v1/offers"), what the route requires, and its handler. A table
// of Routes shows every rule of a service in one place.
type Route struct {
	// Pattern is a net/http.ServeMux pattern, method included.
	Pattern string
	// Rule is what the route requires of its caller.
	Rule Rule
	// Handler serves the route once the rule is satisfied.
	Handler http.Handler
	// Public routes skip authentication entirely (a health check, say).
	Public bool
}

// Mount registers every route of table on mux, each behind its rule.
func (a *Authenticator) Mount(mux *http.ServeMux, table []Route) {
	for _, rt := range table {
		if rt.Public {
			mux.Handle(rt.Pattern, rt.Handler)
			continue
		}
		mux.Handle(rt.Pattern, a.Require(rt.Rule)(rt.Handler))
	}
}
