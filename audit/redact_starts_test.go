package audit

import (
	"net/url"
	"strings"
	"testing"
)

// The filter on the prefixes' first two bytes spares the prefix search
// only for text that holds no prefix: wherever a prefix stands, scrub
// finds it, a prefix of one byte included.
func TestRedactorPrefixFilter(t *testing.T) {
	r := NewRedactor(RedactorConfig{SecretPrefixes: []string{"bk_live_sk_", "kgrt_", "~"}})
	for _, p := range []string{"eyJ", "bk_live_sk_", "kgrt_", "~"} {
		for _, at := range []string{"", "x", "/v1/orders/", "zzzzzzzzzzzzzzzzzzzzzzzzzzzz"} {
			s := at + p + "abc123"
			if !r.mayHold(s) || !r.hasSecret(s) {
				t.Errorf("%q: the filter hides %q", s, p)
			}
			if got := r.scrub(s); strings.Contains(got, p) {
				t.Errorf("scrub(%q) = %q", s, got)
			}
		}
	}
	for _, s := range []string{"", "e", "b", "/v1/orders/42", "curl/8.5.0", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ek bz kx"} {
		if r.mayHold(s) {
			t.Errorf("%q holds no prefix's first two bytes", s)
		}
		if got := r.scrub(s); got != s {
			t.Errorf("scrub(%q) = %q, want it unchanged", s, got)
		}
	}
}

// BenchmarkRedactorClean redacts what a typical request records: a path
// with a query and a user agent, none holding a credential.
func BenchmarkRedactorClean(b *testing.B) {
	r := NewRedactor(RedactorConfig{SecretPrefixes: []string{"bk_test_", "bk_live_", "kgrt_", "kgot_"}})
	u, err := url.Parse("/v1/orders/42?page=2&store=store_1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Path(u)
		_ = r.Field("Mozilla/5.0 (X11; Linux x86_64) PointOfSale/4.2")
	}
}

// FuzzRedactorFieldPlain checks Field's fast path for plain text against
// field, the whole of its work (scrub, then escape and cap): the same
// result for any text, with prefixes of one, two and more bytes and a
// small cap.
func FuzzRedactorFieldPlain(f *testing.F) {
	for _, s := range []string{"", "GET", "/v1/orders/42", "curl/8.5.0", "eyJhbGci", "x~y", "bk_live_sk_abc", "a\\b", "tab\there", "\xff", "é", strings.Repeat("z", 40)} {
		f.Add(s)
	}
	redactors := []*Redactor{
		NewRedactor(RedactorConfig{}),
		NewRedactor(RedactorConfig{SecretPrefixes: []string{"bk_live_sk_", "kgrt_", "~"}, MaxField: 32}),
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, r := range redactors {
			if got, want := r.Field(s), r.field(s); got != want {
				t.Fatalf("redactor %d: Field(%q) = %q, field %q", i, s, got, want)
			}
		}
	})
}

// FuzzRedactorPathPlain checks Path's fast path for a plain path (no
// query, no RawPath, nothing url.URL.EscapedPath escapes, nothing to
// scrub) against path, the whole of its work: the same result for any
// path, as a URL holds it or as url.ParseRequestURI parses it, with
// prefixes of one, two and more bytes and a small cap.
func FuzzRedactorPathPlain(f *testing.F) {
	for _, s := range []string{"", "/", "*", "/v1/orders/42", "/a b", "/a%2Fb", "/x?y=1", "/eyJhbGci", "/x~y", "/bk_live_sk_abc", "/a\\b", "/é", "/$&+,:;=@!'()*", strings.Repeat("/z", 20)} {
		f.Add(s)
	}
	redactors := []*Redactor{
		NewRedactor(RedactorConfig{}),
		NewRedactor(RedactorConfig{SecretPrefixes: []string{"bk_live_sk_", "kgrt_", "~"}, MaxField: 32}),
	}
	f.Fuzz(func(t *testing.T, s string) {
		urls := []*url.URL{{Path: s}}
		if u, err := url.ParseRequestURI(s); err == nil {
			urls = append(urls, u)
		}
		for _, u := range urls {
			for i, r := range redactors {
				if got, want := r.Path(u), r.path(u); got != want {
					t.Fatalf("redactor %d: Path(%#v) = %q, path %q", i, u, got, want)
				}
			}
		}
	})
}
