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
	for _, p := range []Principal{{Method: "other"}, {Mode: "other"}, {Kind: "other"}, {TokenID: "t"}, {Subject: "s"}, {Scope: "x"},
		{Stores: []string{"a", "b", "c"}}} {
		if _, ok := compactCodes(&p); ok {
			t.Errorf("%+v: compact", p)
		}
	}
}
