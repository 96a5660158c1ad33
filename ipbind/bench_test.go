package ipbind_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/keygate/keygate/ipbind"
)

// BenchmarkClientIP measures the resolution of a direct client, of a client
// behind two trusted proxies in X-Forwarded-For and in Forwarded, and with
// both headers present.
func BenchmarkClientIP(b *testing.B) {
	r, err := ipbind.NewResolver(ipbind.Config{TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, remote, xff, fwd string
	}{
		{"direct", "203.0.113.7:51234", "", ""},
		{"direct_spoofed_xff", "203.0.113.7:51234", "198.51.100.1", ""},
		{"two_proxies_xff", "10.0.0.1:443", "203.0.113.7, 10.0.0.2", ""},
		{"two_proxies_forwarded", "10.0.0.1:443", "", `for=203.0.113.7;proto=https, for="[fd00::2]:8443"`},
		{"two_proxies_both", "10.0.0.1:443", "203.0.113.7, 10.0.0.2", `for=203.0.113.7, for=10.0.0.2`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = bc.remote
			if bc.xff != "" {
				req.Header.Set("X-Forwarded-For", bc.xff)
			}
			if bc.fwd != "" {
				req.Header.Set("Forwarded", bc.fwd)
			}
			want := netip.MustParseAddr("203.0.113.7")
			b.ReportAllocs()
			for b.Loop() {
				if ip, ok := r.ClientIP(req); !ok || ip != want {
					b.Fatal(ip, ok)
				}
			}
		})
	}
}

// BenchmarkRulesCheck measures a check against a few allow and deny
// entries.
func BenchmarkRulesCheck(b *testing.B) {
	rules, err := ipbind.ParseRules(
		[]string{"192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32", "203.0.113.0/24"},
		[]string{"203.0.113.128/25", "2001:db8:bad::/48"},
	)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		ip   netip.Addr
		pass bool
	}{
		{"allowed_v4", netip.MustParseAddr("203.0.113.7"), true},
		{"denied_v4", netip.MustParseAddr("203.0.113.200"), false},
		{"not_allowed_v6", netip.MustParseAddr("2001:db9::1"), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := rules.Check(bc.ip, true); (err == nil) != bc.pass {
					b.Fatal(err)
				}
			}
		})
	}
}
