package ipbind_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/keygate/keygate/ipbind"
)

func Example() {
	resolver, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8"}})
	if err != nil {
		panic(err)
	}
	rules, err := ipbind.ParseRules([]string{"203.0.113.0/24"}, []string{"203.0.113.66"})
	if err != nil {
		panic(err)
	}

	h := resolver.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, known := ipbind.FromContext(r.Context())
		if err := rules.Check(ip, known); err != nil {
			var fe *ipbind.ForbiddenError
			errors.As(err, &fe)
			http.Error(w, fe.Reason, http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "hello", ip)
	}))

	for _, c := range []struct{ remote, xff string }{
		{"10.0.0.1:443", "203.0.113.7, 10.0.0.2"}, // through two trusted proxies
		{"10.0.0.1:443", "203.0.113.66"},          // denied
		{"198.51.100.1:1234", "203.0.113.7"},      // spoofed header, untrusted peer
		{"10.0.0.1:443", "unknown"},               // unknown client
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = c.remote
		req.Header.Set("X-Forwarded-For", c.xff)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 hello 203.0.113.7
	// 403 ip_denied
	// 403 ip_not_allowed
	// 403 ip_unknown
}
