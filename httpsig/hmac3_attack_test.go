package httpsig

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// Attack tests of the h-hmac3 round: canonicalPath's fast path against
// the Clean-only check it replaced, on the escaped paths a server sees.

// canonicalPathMain is canonicalPath as it was before cleanRooted:
// path.Clean decides for every path (cleanByPath; the escapes' check,
// canonicalEscapes, is unchanged).
func canonicalPathMain(p, raw string) bool {
	return cleanByPath(p) && canonicalEscapes(raw)
}

// pathAttacks are request targets that decode into another path than
// they spell, or that a router cleans or redirects: all refused.
var pathAttacks = []string{
	"/v1/orders/.", "/v1/orders/..", "/v1/./orders", "/v1/../v1/orders", "//v1/orders", "/v1//orders",
	"/v1/orders//", "/v1/%2e/orders", "/v1/%2E%2E/orders", "/v1/.%2e/orders", "/v1%2forders", "/v1%2Forders",
	"/v1/%6frders", "/v1/orders%2f", "/v1/%252e%252e/orders", "/v1/%", "/v1/%2", "/v1/%zz", "/%2f",
	"/v1/orders/%2e", "/v1/orders/%2e%2e", "/v1/%2e%2e%2fadmin", "/v1/orders/./", "/v1/%7e",
}

// TestPathAttacksRefused: each of pathAttacks, as a server parses its
// request target, is refused by canonicalPath as by main's Clean-only
// check; the canonical controls beside them (a trailing slash, non-ASCII,
// escapes of other characters) are accepted by both.
func TestPathAttacksRefused(t *testing.T) {
	check := func(target string, want bool) {
		t.Helper()
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http refuses it before any handler
		}
		raw := escapedPath(u)
		got, main := canonicalPath(u.Path, raw), canonicalPathMain(u.Path, raw)
		if got != main || got != want {
			t.Errorf("%q (Path %q, escaped %q): canonicalPath %v, main %v, want %v", target, u.Path, raw, got, main, want)
		}
	}
	for _, p := range pathAttacks {
		check(p, false)
		check(p+"?x=1", false)
	}
	for _, p := range []string{"/", "/v1/orders", "/v1/orders/", "/v1/%C3%A9", "/v1/é", "/v1/a%20b", "/v1/a!b",
		"/.well-known/x", "/v1/...", "/v1/.a/b.", "/v1/a%3Fb", "/v1/orders?x=%2e%2e/"} {
		check(p, true)
	}
}

// FuzzCanonicalPathMain checks canonicalPath against main's Clean-only
// check on what a server sees: the Path and escaped path of a parsed
// request target (FuzzCleanRooted passes no escaped path, so its escapes
// and RawPath are never looked at).
func FuzzCanonicalPathMain(f *testing.F) {
	for _, p := range pathAttacks {
		f.Add(p)
	}
	f.Add("/v1/orders")
	f.Add("/v1/%C3%A9/")
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		raw := escapedPath(u)
		if got, want := canonicalPath(u.Path, raw), canonicalPathMain(u.Path, raw); got != want {
			t.Fatalf("%q (Path %q, escaped %q): canonicalPath %v, main %v", target, u.Path, raw, got, want)
		}
		// And directly: any Path beside any escaped form.
		if got, want := canonicalPath(target, raw), canonicalPathMain(target, raw); got != want {
			t.Fatalf("canonicalPath(%q, %q) %v, main %v", target, raw, got, want)
		}
	})
}

// canonicalStringMain is canonicalString as main has it: one pass with
// the byte table.
func canonicalStringMain(s string) (string, string, bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			return s[1:i], s[i+1:], true
		}
		if !plainStringByte[c] {
			return "", "", false
		}
	}
	return "", "", false
}

// FuzzCanonicalString checks canonicalString, eight bytes at a time,
// against main's byte-by-byte pass: the same value, rest and verdict for
// any string (FuzzPlainWord checks the word test alone, FuzzCanonicalParse
// only through whole fields).
func FuzzCanonicalString(f *testing.F) {
	for _, s := range []string{`"abcdefgh"`, `"abcdefg"x`, `"abcdefghi"`, `"abcdefgh"ij"`, `"abcdefg\"`, "\"abcdefg\x7f\"",
		"\"abcdefghijklmno\x80\"", `"hk_4fT9kQ2mZx7LbN3w";alg="hmac-sha256"`, `""`, `"`, `"abcdefghijklmnopqrstuvwxyz`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, rest, ok := canonicalString(s)
		wv, wrest, wok := canonicalStringMain(s)
		if v != wv || rest != wrest || ok != wok {
			t.Fatalf("canonicalString(%q) = %q, %q, %v; main %q, %q, %v", s, v, rest, ok, wv, wrest, wok)
		}
	})
}

// FuzzDecodeBase64Into checks decodeBase64 appending to a buffer that
// already holds bytes, with and without the room (FuzzDecodeBase64 passes
// nil only): the held bytes kept, then base64.StdEncoding's bytes.
func FuzzDecodeBase64Into(f *testing.F) {
	for _, s := range []string{"AAAA", "AA==", "AAB=", "A===", "AA=A", "9Z8tVEQ6ZE6E6EqKyrkXKi8cnRYIJEAgu2sgvQM/zWM="} {
		f.Add(s, uint8(3), true)
	}
	f.Fuzz(func(t *testing.T, s string, held uint8, room bool) {
		if strings.ContainsAny(s, "\r\n") {
			return
		}
		want, err := base64.StdEncoding.DecodeString(s)
		prefix := bytes.Repeat([]byte{0xa5}, int(held%16))
		dst := prefix
		if room {
			dst = append(make([]byte, 0, len(prefix)+len(s)), prefix...)
		}
		got, ok := decodeBase64(dst, s)
		if ok != (err == nil) {
			t.Fatalf("decodeBase64(%q) ok %v, base64: %v", s, ok, err)
		}
		if ok && (!bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], want)) {
			t.Fatalf("decodeBase64(%x, %q) = %x, want %x then %x", prefix, s, got, prefix, want)
		}
	})
}
