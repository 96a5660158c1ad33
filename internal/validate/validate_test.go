package validate

import "testing"

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
	if p := (Grant{Account: "a", DeniedCountries: []string{"se"}}).Problem(); p == "" {
		t.Error("a lower-case country passed")
	}
	if p := (Grant{Account: "a", AllowedIPs: []string{"10.0.0.0/8"}, DeniedIPs: []string{"10.1.0.0/16"}}).Problem(); p != "" {
		t.Errorf("a valid grant refused: %s", p)
	}
}
