package httpsig

import (
	"bytes"
	"encoding/base64"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dunglas/httpsfv"
)

// The differential fuzz target of the fast path. Run it with
//
//	go test ./httpsig -run '^$' -fuzz FuzzCanonicalParse -fuzztime 2m

// fpNearMisses are signature fields one step away from the canonical form
// (input, signature): valid or not, the fast path must leave each to
// httpsfv.
var fpNearMisses = [][2]string{
	{`sig1=("@method" "@path");created=0123;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=0;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=-5;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1234567890123456;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1.5;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method"  "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=( "@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path" );created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path"); created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{` sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256" `, `sig1=:AAAA: `},
	{`sig1=("@method" "@path");created=1;nonce="n\"";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@pa\\th");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@method");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=();created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method";req "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" @path);created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="` + strings.Repeat("k", 129) + `";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid=k1;alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");nonce="n";created=1;keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256";tag="t"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;expires=2;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256";alg="x"`, `sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256", sig2=("@method")`, `sig1=:AAAA:`},
	{`Sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `Sig1=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig2=:AAAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=::`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AA AA:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:;p=1`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:, sig1=:BBBB:`},
	{`sig1=("@method" "@path");created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1="AAAA"`},
	{"sig1=(\"@method\" \"@path\");created=1;nonce=\"n\tx\";keyid=\"k1\";alg=\"hmac-sha256\"", `sig1=:AAAA:`},
}

// fpCanonical returns the fields Signer writes for a request with body
// (and X-Store-Id when store is set).
func fpCanonical(t testing.TB, body []byte, store bool) (input, sig, digest string) {
	r := httptest.NewRequest(fzMethod, fzURL, bytes.NewReader(body))
	r.Header.Set("Content-Type", fzContentType)
	if store {
		r.Header.Set("X-Store-Id", "store_1")
	}
	s := &Signer{KeyID: "hk_4fT9kQ2mZx7LbN3w", Secret: fzSecret}
	if err := s.Sign(r, body); err != nil {
		t.Fatal(err)
	}
	return r.Header.Get("Signature-Input"), r.Header.Get("Signature"), r.Header.Get("Content-Digest")
}

func TestCanonicalParseTakesSignerOutput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  []byte
		store bool
	}{{"no body", nil, false}, {"body", []byte(`{"a":1}`), false}, {"body and store", []byte("x"), true}} {
		t.Run(tc.name, func(t *testing.T) {
			input, sig, digest := fpCanonical(t, tc.body, tc.store)
			fast, fastMAC, ok := parseCanonical(input, sig)
			if !ok {
				t.Fatalf("the fast path refused Signer's fields %q %q", input, sig)
			}
			slow, slowMAC, err := parseSignatureSFV([]string{input}, []string{sig})
			if err != nil || !reflect.DeepEqual(fast, slow) || !bytes.Equal(fastMAC, slowMAC) {
				t.Fatalf("fast %+v %x, httpsfv %+v %x %v", fast, fastMAC, slow, slowMAC, err)
			}
			if digest != "" {
				if alg, _, ok := canonicalByteMember(digest, nil); !ok || alg != "sha-256" {
					t.Fatalf("the fast path refused Signer's Content-Digest %q", digest)
				}
			}
		})
	}
}

func TestCanonicalParseLeavesNearMissesToHTTPSFV(t *testing.T) {
	for _, tc := range fpNearMisses {
		if _, _, ok := parseCanonical(tc[0], tc[1]); ok {
			t.Errorf("the fast path took %q %q", tc[0], tc[1])
		}
	}
}

// FuzzCanonicalParse checks the fast path against httpsfv: whatever
// parseCanonical accepts, httpsfv accepts with the same values, and
// parseSignatureInto (fast path first, with Verify's MAC buffer) decides
// exactly as the httpsfv path alone. Likewise for the Content-Digest form.
func FuzzCanonicalParse(f *testing.F) {
	for _, c := range []struct {
		body  []byte
		store bool
	}{{nil, false}, {[]byte("x"), false}, {bytes.Repeat([]byte("k"), 1024), true}} {
		input, sig, digest := fpCanonical(f, c.body, c.store)
		f.Add(input, sig, digest)
	}
	for _, tc := range fpNearMisses {
		f.Add(tc[0], tc[1], "sha-256=:"+tc[1][len("sig1=:"):])
	}
	f.Add(rfcInput, rfcSignature, "sha-512=:AAAA:")
	// Non-zero trailing bits: both decoders take them alike.
	f.Add(`sig1=("@method");created=1;nonce="n";keyid="k1";alg="a"`, `sig1=:AAB=:`, "sha-256=:AAB=:")
	f.Fuzz(func(t *testing.T, input, sig, digest string) {
		// One field line each: the fast path's only case.
		if strings.ContainsAny(input+sig, "\r\n") || len(input) > maxFieldLen || len(sig) > maxFieldLen {
			return
		}
		slow, slowMAC, slowErr := parseSignatureSFV([]string{input}, []string{sig})
		fast, fastMAC, ok := parseCanonical(input, sig)
		if ok && (slowErr != nil || !reflect.DeepEqual(fast, slow) || !bytes.Equal(fastMAC, slowMAC)) {
			t.Fatalf("fast %+v %x, httpsfv %+v %x %v", fast, fastMAC, slow, slowMAC, slowErr)
		}
		h := httptest.NewRequest(fzMethod, fzURL, nil).Header
		h.Set("Signature-Input", input)
		h.Set("Signature", sig)
		// With the MAC buffer Verify passes.
		var got signatureInput
		gotMAC, err := parseSignatureInto(h, make([]byte, 0, 64), &got)
		if (err == nil) != (slowErr == nil) || err == nil && (!reflect.DeepEqual(got, slow) || !bytes.Equal(gotMAC, slowMAC)) {
			t.Fatalf("parseSignature %+v %x %v, httpsfv %+v %x %v", got, gotMAC, err, slow, slowMAC, slowErr)
		}

		alg, value, ok := canonicalByteMember(digest, nil)
		if !ok || strings.ContainsAny(digest, "\r\n") {
			return
		}
		d, err := httpsfv.UnmarshalDictionary([]string{digest})
		if err != nil || len(d.Names()) != 1 || d.Names()[0] != alg {
			t.Fatalf("fast path took %q, httpsfv: %v", digest, err)
		}
		m, _ := d.Get(alg)
		item, isItem := m.(httpsfv.Item)
		b, isBytes := item.Value.([]byte)
		if !isItem || !isBytes || len(item.Params.Names()) != 0 || !bytes.Equal(b, value) {
			t.Fatalf("fast path read %q as %s %x, httpsfv as %#v", digest, alg, value, m)
		}
	})
}

// TestSignerComponentsShared checks that the component lists a Signer
// writes, with and without a body, Content-Type and X-Store-Id, are read
// as the shared lists, in the Signer's order, and that the fast path then
// allocates nothing with Verify's MAC buffer; a list of another order or
// with another header is read into a list of its own.
func TestSignerComponentsShared(t *testing.T) {
	for mask := range 8 {
		var body []byte
		r := httptest.NewRequest(fzMethod, fzURL, nil)
		if mask&1 != 0 {
			body = []byte(`{"a":1}`)
			r = httptest.NewRequest(fzMethod, fzURL, bytes.NewReader(body))
		}
		if mask&2 != 0 {
			r.Header.Set("Content-Type", fzContentType)
		}
		if mask&4 != 0 {
			r.Header.Set("X-Store-Id", "store_1")
		}
		if err := (&Signer{KeyID: "k1", Secret: fzSecret}).Sign(r, body); err != nil {
			t.Fatal(err)
		}
		var si signatureInput
		_, err := parseSignatureInto(r.Header, make([]byte, 0, 64), &si)
		if err != nil {
			t.Fatal(err)
		}
		if &si.components[0] != &signerComponents[mask][0] || !slices.Equal(si.components, signerComponents[mask]) {
			t.Errorf("mask %d: %q is not the shared %q", mask, si.components, signerComponents[mask])
		}
		var mac [64]byte
		if n := testing.AllocsPerRun(100, func() { parseSignatureInto(r.Header, mac[:0], &si) }); n != 0 {
			t.Errorf("mask %d: %v allocations", mask, n)
		}
	}
	for _, list := range []string{
		`("@authority" "@method" "@path" "@query")`,
		`("@method" "@authority" "@path" "@query" "x-other")`,
		`("@method" "@authority" "@path" "@query" "content-type" "content-digest")`,
		`("@method" "@authority" "@path" "@query" "content-digest" "x-store-id" "x-other")`,
		`("@method" "@authority" "@path")`,
	} {
		si, _, ok := parseCanonical(`sig1=`+list+`;created=1;nonce="n";keyid="k1";alg="hmac-sha256"`, `sig1=:AAAA:`)
		if !ok || len(si.components) != strings.Count(list, `"`)/2 {
			t.Errorf("%s: %q, %v", list, si.components, ok)
			continue
		}
		for _, shared := range signerComponents {
			if &si.components[0] == &shared[0] {
				t.Errorf("%s: read as the shared %q", list, shared)
			}
		}
	}
}

// FuzzLowerFieldName checks lowerFieldName's pass over the bytes against
// the strings.ToLower test it stands for.
func FuzzLowerFieldName(f *testing.F) {
	for _, s := range []string{"content-type", "Content-Type", "x-store-id", "a b", "a:b", `a"b`, "a\tb", "é", "É", "a\xffb", "", "\u212a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := name == strings.ToLower(name) && !strings.ContainsAny(name, " \t\r\n:\"")
		if got := lowerFieldName(name); got != want {
			t.Fatalf("lowerFieldName(%q) = %v, want %v", name, got, want)
		}
	})
}

// FuzzDecodeBase64: the fast path's decoder accepts exactly what
// base64.StdEncoding (httpsfv's decoder) accepts among strings without CR
// and LF (which that decoder skips and the fast path refuses), with the
// same bytes.
func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{"", "AAAA", "AA==", "AAA=", "AB==", "AAB=", "A===", "====", "AA=A", "AA==AAAA", "AAAA====", "AAA", "+/+/", "-_-_", "AA\n==", "YWJj ZA==", "9Z8tVEQ6ZE6E6EqKyrkXKi8cnRYIJEAgu2sgvQM/zWM="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := base64.StdEncoding.DecodeString(s)
		got, ok := decodeBase64(nil, s)
		if strings.ContainsAny(s, "\r\n") {
			if ok {
				t.Fatalf("decodeBase64(%q) took CR or LF", s)
			}
			return
		}
		if ok != (err == nil) || ok && !bytes.Equal(got, want) {
			t.Fatalf("decodeBase64(%q) = %x, %v; base64: %x, %v", s, got, ok, want, err)
		}
	})
}

// TestSignerCoverage: the coverage known for the lists a Signer writes is
// the one worked out from their components, and a list equal to one of
// them but not shared is worked out alike.
func TestSignerCoverage(t *testing.T) {
	for mask, l := range signerComponents {
		if got, want := coverage(l), coverageOf(l); got != want || want&(coversMethod|coversAuthority|coversPath|coversQuery) != 0xf {
			t.Fatalf("list %d: coverage %b, worked out %b", mask, got, want)
		}
		if got, want := coverage(slices.Clone(l)), coverageOf(l); got != want {
			t.Fatalf("list %d, copied: coverage %b, want %b", mask, got, want)
		}
		if got := coverage(l[:4]); got != coverageOf(l[:4]) {
			t.Fatalf("list %d, a prefix: coverage %b", mask, got)
		}
	}
}

// FuzzPlainWord checks plainWord, eight bytes at a time, against
// plainStringByte, byte by byte: a word is plain exactly when each of its
// bytes may stand in an sf-string unescaped and none is the quote. Every
// byte value at every position of a plain word is tried first.
func FuzzPlainWord(f *testing.F) {
	f.Add(uint64(0x4141414141414141))
	f.Fuzz(func(t *testing.T, w uint64) {
		check := func(w uint64) {
			want := true
			for i := range 8 {
				c := byte(w >> (8 * i))
				want = want && plainStringByte[c] && c != '"'
			}
			if got := plainWord(w); got != want {
				t.Fatalf("plainWord(%#016x) = %v, want %v", w, got, want)
			}
		}
		check(w)
		for i := range 8 {
			for c := range 256 {
				check(0x4141414141414141&^(0xff<<(8*i)) | uint64(c)<<(8*i))
			}
		}
	})
}
