package keygate

import "testing"

// TestCompactCodes: compactCodes gives each value of methodCodes,
// modeCodes and kindCodes its index there, which principal maps back, and
// refuses a value outside them.
func TestCompactCodes(t *testing.T) {
	for i, m := range methodCodes {
		if c, ok := compactCodes(&Principal{Method: m}); !ok || int(c.method) != i {
			t.Errorf("method %q: %v, %v", m, c, ok)
		}
	}
	for i, m := range modeCodes {
		if c, ok := compactCodes(&Principal{Mode: m}); !ok || int(c.mode) != i {
			t.Errorf("mode %q: %v, %v", m, c, ok)
		}
	}
	for i, k := range kindCodes {
		if c, ok := compactCodes(&Principal{Kind: k}); !ok || int(c.kind) != i {
			t.Errorf("kind %q: %v, %v", k, c, ok)
		}
	}
	for _, p := range []Principal{{Method: "other"}, {Mode: "other"}, {Kind: "other"}} {
		if _, ok := compactCodes(&p); ok {
			t.Errorf("%+v: compact", p)
		}
	}
}

// TestCompactForm: compactForm picks the compact form whose room holds
// the Principal's stores and token fields, and none for a method, mode
// or kind outside the vocabulary.
func TestCompactForm(t *testing.T) {
	two, three := []string{"a", "b"}, []string{"a", "b", "c"}
	for _, c := range []struct {
		p    Principal
		want int
	}{
		{Principal{Method: MethodAPIKey}, compactKey},
		{Principal{Method: MethodAPIKey, Stores: two}, compactKey},
		{Principal{Method: MethodAPIKey, Stores: three}, notCompact},
		{Principal{Method: MethodJWT, TokenID: "t"}, compactToken},
		{Principal{Subject: "s", Stores: []string{"a"}}, compactToken},
		{Principal{Scope: "x", Stores: two}, notCompact},
		{Principal{Method: "other"}, notCompact},
		{Principal{Method: MethodJWT, TokenID: "t", Kind: "other"}, notCompact},
	} {
		if _, got := compactForm(&c.p); got != c.want {
			t.Errorf("%+v: form %d, want %d", c.p, got, c.want)
		}
	}
}
