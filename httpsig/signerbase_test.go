package httpsig

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"
)

// FuzzSignerBase checks appendSignerBase, the signature base of a list a
// Signer writes, against appendAnyBase, the base of any list: for every
// list of signerComponents and any request (each optional header absent,
// once, or twice, with any value), the same bytes, or an error from both;
// and the Content-Digest values it hands over for the digest's check are
// the request's.
// Run it with
//
//	go test ./httpsig -run '^$' -fuzz FuzzSignerBase -fuzztime 1m
func FuzzSignerBase(f *testing.F) {
	f.Add(uint8(7), "POST", "api.example.com", "/v1/orders", "x=1", "sha-256=:AAAA:", "application/json", "store_1", uint16(0))
	f.Add(uint8(0), "GET", "EXAMPLE.com:443", "/", "", "", "", "", uint16(0))
	f.Add(uint8(5), "PUT", "h:80", "/a%20b", "a=1&b=2", " v ", "\t", "s", uint16(0b100_010_001))
	f.Add(uint8(6), "DELETE", "h", "/x/", "q", "d", " t ", " s ", uint16(0b010_010_010))
	f.Fuzz(func(t *testing.T, mask uint8, method, host, path, query, digest, ctype, store string, counts uint16) {
		mask %= uint8(len(signerComponents))
		r := httptest.NewRequest(http.MethodGet, "http://h/", nil)
		r.Method, r.Host, r.URL.Path, r.URL.RawPath, r.URL.RawQuery = method, host, path, "", query
		// counts holds, three bits per optional header, how many times it
		// is sent (0, 1 or 2).
		for i, v := range [...]string{digest, ctype, store} {
			for range (counts >> (3 * i) & 7) % 3 {
				r.Header[signerOptionalKeys[i]] = append(r.Header[signerOptionalKeys[i]], v)
			}
		}
		si := signatureInput{components: signerComponents[mask], params: `("@method");created=1`}
		if signerMask(si.components) != int(mask) {
			t.Fatalf("signerMask does not know list %d", mask)
		}
		tg := targetOf(r)
		var digestSeen []string
		fast, fastErr := appendSignerBase([]byte("x"), r, &si, &tg, int(mask), &digestSeen)
		// The Content-Digest values it hands over are the request's, when
		// it covers them and its base was made.
		want := r.Header["Content-Digest"]
		if mask&1 == 0 {
			want = nil
		}
		if fastErr == nil && (len(digestSeen) != len(want) || len(want) > 0 && &digestSeen[0] != &want[0]) {
			t.Fatalf("list %v: Content-Digest handed over %q, want %q", si.components, digestSeen, want)
		}
		// The same list, not shared: the general path.
		own := si
		own.components = slices.Clone(si.components)
		if signerMask(own.components) != -1 {
			t.Fatal("signerMask takes a list of its own for a Signer's")
		}
		slow, slowErr := appendSignatureBase([]byte("x"), r, &own, tg, nil)
		if (fastErr == nil) != (slowErr == nil) || fastErr == nil && !bytes.Equal(fast, slow) {
			t.Fatalf("list %v:\nfast %q %v\nany  %q %v", si.components, fast, fastErr, slow, slowErr)
		}
		if fastErr != nil && fastErr.Error() != slowErr.Error() {
			t.Fatalf("errors differ: %v, %v", fastErr, slowErr)
		}
	})
}

// FuzzCleanRooted checks cleanRooted against path.Clean: whenever it
// reports a path clean, Clean gives that path back (with its trailing
// slash put back), so that canonicalPath, which asks Clean otherwise,
// decides as with Clean alone.
func FuzzCleanRooted(f *testing.F) {
	for _, p := range []string{"/", "/v1/orders", "/v1/orders/", "//", "/a//b", "/./a", "/a/.", "/a/..", "/a/../b",
		"/.a", "/a./b", "/..a/", "/a/.../b", "a/b", "", ".", "/%2e/", "/a/b/c/"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && p != "/" {
			clean += "/"
		}
		if cleanRooted(p) && clean != p {
			t.Fatalf("cleanRooted(%q) is true, path.Clean gives %q", p, clean)
		}
		if want := p == "" || clean == p; canonicalPath(p, "") != want {
			t.Fatalf("canonicalPath(%q) is %v, path.Clean gives %q", p, !want, clean)
		}
	})
}

// TestCleanRootedTakesCleanPaths: the usual clean paths take the fast
// path, the others are left to path.Clean.
func TestCleanRootedTakesCleanPaths(t *testing.T) {
	for _, p := range []string{"/", "/v1/orders", "/v1/orders/", "/.well-known/x", "/a..b/c."} {
		if !cleanRooted(p) {
			t.Errorf("cleanRooted(%q) is false", p)
		}
	}
	for _, p := range []string{"", "a", "//", "/a//b", "/./a", "/a/..", "/a/../"} {
		if cleanRooted(p) {
			t.Errorf("cleanRooted(%q) is true", p)
		}
	}
}
