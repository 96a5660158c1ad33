package middleware

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/geo"
)

// stubGeo answers every lookup with code (ok when code is not empty), or
// err, and counts the lookups.
type stubGeo struct {
	code    string
	err     error
	lookups int
}

func (g *stubGeo) Country(netip.Addr) (string, bool, error) {
	g.lookups++
	return g.code, g.code != "", g.err
}

// TestCheckOriginShortcut is a differential test of checkOrigin's early
// return for a credential without origin rules under a service without
// country rules: for every combination of the credential's lists (nil,
// empty, set, malformed), the service's country rules, a known or unknown
// address and a resolver that knows the country, does not, fails or is
// missing, it answers exactly as the full check (anyOrigin false) does,
// with the same country and as many lookups.
func TestCheckOriginShortcut(t *testing.T) {
	ipLists := map[string][]string{"nil": nil, "empty": {}, "set": {"192.0.2.0/24"}, "malformed": {"not an address"}}
	countryLists := map[string][]string{"nil": nil, "empty": {}, "set": {"SE"}, "malformed": {"se"}}
	var grants []struct {
		name string
		g    keygate.Grant
	}
	for an, a := range ipLists {
		for dn, d := range ipLists {
			for cn, c := range countryLists {
				for xn, x := range countryLists {
					grants = append(grants, struct {
						name string
						g    keygate.Grant
					}{fmt.Sprintf("allowIP=%s denyIP=%s allowCountry=%s denyCountry=%s", an, dn, cn, xn),
						keygate.Grant{AllowedIPs: a, DeniedIPs: d, AllowedCountries: c, DeniedCountries: x}})
				}
			}
		}
	}
	services := map[string]geo.RulesConfig{"none": {}, "empty lists": {Allow: []string{}, Deny: []string{}},
		"deny KP": {Deny: []string{"KP"}}, "allow SE": {Allow: []string{"SE"}}, "allow SE or unknown": {Allow: []string{"SE"}, AllowUnknown: true}}
	resolvers := map[string]func() *stubGeo{
		"missing": nil, "SE": func() *stubGeo { return &stubGeo{code: "SE"} }, "US": func() *stubGeo { return &stubGeo{code: "US"} },
		"unknown": func() *stubGeo { return &stubGeo{} }, "failing": func() *stubGeo { return &stubGeo{err: errors.New("down")} },
	}
	addrs := map[string]struct {
		ip    netip.Addr
		known bool
	}{"inside": {netip.MustParseAddr("192.0.2.7"), true}, "outside": {netip.MustParseAddr("198.51.100.1"), true}, "unknown": {}}
	shortcuts := 0
	for sn, sc := range services {
		countries, err := geo.ParseRules(sc)
		if err != nil {
			t.Fatal(err)
		}
		for rn, res := range resolvers {
			for an, addr := range addrs {
				for _, gr := range grants {
					// Two states alike, each with its own resolver, so
					// that the lookups of each path are counted apart.
					var answers [2]string
					var lookups [2]int
					var fast, built bool
					for i := range 2 {
						cfg := AccessConfig{Countries: countries}
						var stub *stubGeo
						if res != nil {
							stub = res()
							cfg.Geo = stub
						}
						s, err := newAccessState(cfg, time.Now)
						if err != nil {
							break // country rules without a resolver: refused by New
						}
						p := keygate.Principal{KeyID: "k"}
						kr := s.rulesFor(&p, &gr.g)
						if i == 1 {
							fast = kr.anyOrigin && s.anyCountry
							full := *kr
							full.anyOrigin = false
							kr = &full
						}
						built = true
						country, err := s.checkOrigin(kr, addr.ip, addr.known)
						answers[i] = fmt.Sprintf("country=%q err=%v", country, err)
						if stub != nil {
							lookups[i] = stub.lookups
						}
					}
					if !built {
						continue
					}
					if fast {
						shortcuts++
					}
					if answers[0] != answers[1] || lookups[0] != lookups[1] {
						t.Errorf("service %s, resolver %s, address %s, %s: %s (%d lookups) with the shortcut, %s (%d) without",
							sn, rn, an, gr.name, answers[0], lookups[0], answers[1], lookups[1])
					}
				}
			}
		}
	}
	if shortcuts == 0 {
		t.Error("the shortcut was never taken")
	}
}
