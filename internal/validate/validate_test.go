package validate

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"ident", Ident("acct_1:a.b-c"), true},
		{"ident with space", Ident("acct 1"), false},
		{"ident too long", Ident(string(make([]byte, 129))), false},
		{"text", Text("POS terminal 7 – café", 200), true},
		{"text with newline", Text("a\nb", 200), false},
		{"text with C1 control", Text("a\u0085b", 200), false},
		{"text invalid UTF-8", Text("\xff", 200), false},
		{"ip", IPRule("192.0.2.1"), true},
		{"prefix", IPRule("2001:db8::/32"), true},
		{"host bits", IPRule("192.0.2.1/24"), false},
		{"zone", IPRule("fe80::1%eth0"), false},
		{"leading zero", IPRule("010.0.0.1"), false},
		{"country", CountryCode("SE"), true},
		{"country lower case", CountryCode("se"), false},
		{"country three letters", CountryCode("SWE"), false},
		{"permission", PrintableNoSpace("offers:write"), true},
		{"permission with space", PrintableNoSpace("offers write"), false},
		{"mount prefix", MountPrefix("/admin/v1"), true},
		{"mount prefix root", MountPrefix("/"), false},
		{"mount prefix trailing slash", MountPrefix("/console/"), false},
		{"mount prefix relative", MountPrefix("console"), false},
		{"mount prefix empty segment", MountPrefix("/a//b"), false},
		{"mount prefix dot dot", MountPrefix("/a/../b"), false},
		{"mount prefix space", MountPrefix("/con sole"), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	now := time.Unix(1767225600, 0)
	for _, tc := range []struct {
		name    string
		g       keygate.Grant
		expires time.Time
		bad     bool
	}{
		{"valid", keygate.Grant{Account: "a", Mode: keygate.ModeTest, AllowedIPs: []string{"10.0.0.0/8"}, DeniedIPs: []string{"10.1.0.0/16"}}, now.Add(time.Second), false},
		{"lower-case country", keygate.Grant{Account: "a", Mode: keygate.ModeTest, DeniedCountries: []string{"se"}}, time.Time{}, true},
		{"no mode", keygate.Grant{Account: "a"}, time.Time{}, true},
		{"expired", keygate.Grant{Account: "a", Mode: keygate.ModeLive}, now, true},
		{"no account", keygate.Grant{Mode: keygate.ModeLive}, time.Time{}, true},
	} {
		if p := Credential(tc.g, "name", tc.expires, now); (p != "") != tc.bad {
			t.Errorf("%s: got %q, want a problem: %v", tc.name, p, tc.bad)
		}
	}
}
