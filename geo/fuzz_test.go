package geo_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/geo"
)

// FuzzParseRules: lists of codes give rules or an error wrapping
// ErrInvalidCode (never a panic), and the rules decide every country as
// their documentation says: denied first, then the allow list, then
// unknown countries.
func FuzzParseRules(f *testing.F) {
	f.Add("DE,FR", "KP", "DE", false)
	f.Add("", "RU", "XX", true)
	f.Add("de", "", "DE", false)
	f.Add("D", "", "", false)
	f.Fuzz(func(t *testing.T, allow, deny, code string, allowUnknown bool) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		a, d := split(allow), split(deny)
		r, err := geo.ParseRules(geo.RulesConfig{Allow: a, Deny: d, AllowUnknown: allowUnknown})
		valid := func(c string) bool { return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' }
		allValid := true
		for _, c := range append(slices.Clone(a), d...) {
			allValid = allValid && valid(c)
		}
		if err != nil {
			if !errors.Is(err, geo.ErrInvalidCode) {
				t.Fatalf("error %v does not wrap ErrInvalidCode", err)
			}
			if allValid {
				t.Fatalf("valid lists %q, %q refused: %v", a, d, err)
			}
			return
		}
		if !allValid {
			t.Fatalf("lists with an invalid code accepted: %q, %q", a, d)
		}
		if r.Empty() != (len(a) == 0 && len(d) == 0) {
			t.Fatalf("Empty() = %v for %q, %q", r.Empty(), a, d)
		}
		var want bool // allowed?
		switch {
		case r.Empty():
			want = true
		case !valid(code):
			want = allowUnknown
		case slices.Contains(d, code):
			want = false
		case len(a) > 0 && !slices.Contains(a, code):
			want = false
		default:
			want = true
		}
		err = r.Check(code, true)
		if (err == nil) != want {
			t.Fatalf("Check(%q) with allow %q, deny %q, allowUnknown %v: %v, want allowed=%v", code, a, d, allowUnknown, err, want)
		}
		if err != nil && !errors.Is(err, geo.ErrGeoForbidden) {
			t.Fatalf("refusal %v does not wrap ErrGeoForbidden", err)
		}
	})
}
