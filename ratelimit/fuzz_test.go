package ratelimit

import (
	"errors"
	"testing"
)

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"20/10s", "100/1m", "10/s", "5000/h", "3/1.5s", "0/1s", "unlimited", "+20/1s", "20/", "/1s", "999999999/1ns", "20/10s "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("ParsePolicy(%q): %v does not wrap ErrInvalidPolicy", s, err)
			}
			return
		}
		if p.Unlimited() {
			return
		}
		if p.Limit <= 0 || p.Window <= 0 || p.Validate() != nil {
			t.Fatalf("ParsePolicy(%q) = %+v, which does not validate", s, p)
		}
		again, err := ParsePolicy(p.String())
		if err != nil || again.Limit != p.Limit || again.Window != p.Window {
			t.Fatalf("round trip of %q: %q → %+v, %v", s, p.String(), again, err)
		}
	})
}
