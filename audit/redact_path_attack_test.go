package audit

import (
	"net/url"
	"strings"
	"testing"
)

// TestAttackPathNoLeak parses request targets that hide a credential
// (escaped bytes, RawPath, a query, a prefix of one byte, a path at and
// past the cap) and checks that Path, fast path or not, never returns the
// credential nor differs from path, the whole of its work.
func TestAttackPathNoLeak(t *testing.T) {
	r := NewRedactor(RedactorConfig{SecretPrefixes: []string{"bk_live_", "Z", "@@"}, MaxField: 40})
	secrets := []string{"eyJhbGciOiJIUzI1NiJ9", "bk_live_abc123", "Zsecret", "@@tok"}
	for _, target := range []string{
		"/v1/eyJhbGciOiJIUzI1NiJ9",
		"/v1/%65yJhbGciOiJIUzI1NiJ9",
		"/v1/e%79JhbGciOiJIUzI1NiJ9",
		"/v1/a%2Fb/eyJhbGciOiJIUzI1NiJ9",
		"/v1/x?eyJhbGciOiJIUzI1NiJ9",
		"/v1/x?token=abc&q=eyJhbGciOiJIUzI1NiJ9",
		"/v1/bk_live_abc123",
		"/v1/bk%5Flive_abc123",
		"/v1/Zsecret",
		"/v1/@@tok",
		"/v1/@%40tok",
		"/" + strings.Repeat("a", 36) + "/eyJhbGciOiJIUzI1NiJ9",
		"/" + strings.Repeat("a", 39),
		"/" + strings.Repeat("a", 40),
		"/v1/x?",
		"/v1/x#eyJhbGciOiJIUzI1NiJ9",
		"*",
	} {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		got, want := r.Path(u), r.path(u)
		if got != want {
			t.Errorf("Path(%q) = %q, path %q", target, got, want)
		}
		if len(got) > 40 {
			t.Errorf("Path(%q) = %q, longer than MaxField", target, got)
		}
		for _, s := range append(secrets, "eyJ", "bk_live_", "Z", "@@") {
			if strings.Contains(got, s) {
				t.Errorf("Path(%q) = %q holds %q", target, got, s)
			}
		}
	}
}
