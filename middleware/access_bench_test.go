package middleware_test

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// BenchmarkFullChain is the handler behind the whole chain: API key, IP
// binding (httptest's RemoteAddr 192.0.2.1 inside the key's prefix),
// permission and package rule, failed-authentication check and a rate limit
// too large to refuse. Compare with BenchmarkAPIKeyMiddleware: the target
// is at most 1 µs more.
func BenchmarkFullChain(b *testing.B) {
	m := newKeyManager(b)
	key := mkKey(b, m, apikey.CreateParams{
		Grant: keygate.Grant{
			Package:     testpackages.Go,
			Permissions: []string{"products:read", "offers:write"},
			AllowedIPs:  []string{"192.0.2.0/24", "2001:db8::/32"},
			Stores:      []string{"store_1"},
		},
	})
	policy := ratelimit.Policy{Name: "live", Limit: 1 << 30, Window: time.Hour}
	auth := newAccessAuth(b, m, middleware.AccessConfig{
		Packages:  testpackages.Retail(),
		RateLimit: func(keygate.Principal) ratelimit.Policy { return policy },
	})
	h := auth.Require(middleware.Rule{Permission: "offers:write", Package: testpackages.Go})(usesPrincipal)
	benchmarkHandler(b, h, key)
}
