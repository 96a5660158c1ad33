package jwt

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refHasDuplicateNames is an independent duplicate-name check for valid
// UTF-8 JSON, on encoding/json's token stream (names unescaped).
func refHasDuplicateNames(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		names  map[string]bool
		name   bool // the next string token is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			panic("refHasDuplicateNames: invalid JSON: " + err.Error())
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.name {
			if s, ok := tok.(string); ok {
				if top.names[s] {
					return true
				}
				top.names[s] = true
				top.name = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, names: map[string]bool{}, name: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a name comes next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].name = true
		}
	}
}

func TestHasDuplicateNames(t *testing.T) {
	for _, tc := range []struct {
		json string
		dup  bool
	}{
		{`{}`, false},
		{`[]`, false},
		{`"a"`, false},
		{`{"a":1,"b":2}`, false},
		{`{"a":1,"a":2}`, true},
		{`{"a":1,"b":2,"a":3}`, true},
		{`{"":1,"":2}`, true},
		{`{"":1,"a":2}`, false},
		{` { "a" : 1 , "a" : 2 } `, true},
		{"{\r\n\t\"a\"\t:\r\n1,\n\"a\":2}", true},
		// Quotes and backslashes in values and names.
		{`{"a":"\"a\"","b":"a"}`, false},
		{`{"a":"x\",\"a\":\"y"}`, false},
		{`{"a":"\\","a":1}`, true},
		{`{"a":"\\\"","b":1}`, false},
		{`{"a\\":1,"a":2}`, false},
		{`{"a\\":1,"a\\":2}`, true},
		{`{"\\\"":1,"\\\"":2}`, true},
		{`{"\"":1,"\\":2}`, false},
		{`{"a\"":1,"a":2}`, false},
		{`{"a\"":1,"a\u0022":2}`, true},
		{`{"a":"}","a":1}`, true},
		{`{"a":"{","b":"}"}`, false},
		{`{"a":"[","b":{"a":1}}`, false},
		{`{"a":"]","a":[]}`, true},
		{`{"a":":,","b":",:"}`, false},
		// Unicode escapes name the same member.
		{`{"\u0061":1,"a":2}`, true},
		{`{"alg":1,"\u0061lg":2}`, true},
		{`{"\u0041":1,"a":2}`, false},
		{`{"\u00e9":1,"é":2}`, true},
		{`{"\u00E9":1,"\u00e9":2}`, true},
		{`{"e\u0301":1,"é":2}`, false}, // no normalization: different code points
		{`{"\ud83d\ude00":1,"😀":2}`, true},
		{`{"\/":1,"/":2}`, true},
		{`{"\n":1,"\u000a":2}`, true},
		{`{"\n":1,"\\n":2}`, false},
		{`{"a\u0000":1,"a":2}`, false},
		// Nesting: each object has its own names.
		{`{"a":{"a":1}}`, false},
		{`{"a":{"b":1},"b":2}`, false},
		{`{"a":{"b":1},"a":2}`, true},
		{`{"a":{"b":1,"b":2}}`, true},
		{`{"a":{"b":{"c":{"d":1,"d":1}}}}`, true},
		{`{"a":{"b":{"c":{"d":1,"e":1}}},"e":1}`, false},
		{`{"x":{"a":1},"y":{"a":1}}`, false},
		// Arrays: strings in arrays are not names; objects in arrays are
		// separate objects.
		{`{"a":["a","a"]}`, false},
		{`{"a":["b",{"b":1,"c":["b","b"]}],"b":1}`, false},
		{`{"a":[{"b":1},{"b":2}]}`, false},
		{`{"a":[{"b":1,"b":2}]}`, true},
		{`[{"a":1},{"a":1}]`, false},
		{`[{"a":1,"a":1}]`, true},
		{`{"a":[1,2,{"c":3}],"c":4}`, false},
		{`{"a":[{"x":1}],"x":2,"x":3}`, true},
		{`{"a":[[{"x":1}],[{"x":1}]],"x":1}`, false},
		{`{"a":[[],[[]],{}],"b":[{}],"a":0}`, true},
		{`{"a":[],"b":{},"c":[{}],"d":[[{"e":[{"f":1,"f":2}]}]]}`, true},
		{`{"a":[{"b":[{"c":1}],"c":2}],"c":3}`, false},
		{`{"a":1,"b":[{"a":1}],"c":{"a":1}}`, false},
		// Values of every kind between names.
		{`{"a":true,"b":false,"c":null,"d":-1.5e3,"a":0}`, true},
		{`{"a":true,"b":false,"c":null,"d":-1.5e3,"e":0}`, false},
	} {
		data := []byte(tc.json)
		require.True(t, json.Valid(data), "test input %s is not valid JSON", tc.json)
		assert.Equal(t, tc.dup, refHasDuplicateNames(data), "reference on %s", tc.json)
		assert.Equal(t, tc.dup, hasDuplicateNames(data, nil), "hasDuplicateNames(%s, nil)", tc.json)
	}

	// Deep nesting and many names.
	deep := strings.Repeat(`{"a":[`, 200) + "1" + strings.Repeat("]}", 200)
	assert.False(t, hasDuplicateNames([]byte(deep), nil))
	var b strings.Builder
	b.WriteByte('{')
	for i := range 300 {
		b.WriteString(`"n` + itoa(int64(i)) + `":1,`)
	}
	many := b.String()
	assert.False(t, hasDuplicateNames([]byte(many+`"last":1}`), nil))
	assert.True(t, hasDuplicateNames([]byte(many+`"n0":1}`), nil))
	assert.True(t, hasDuplicateNames([]byte(many+`"n29\u0039":1}`), nil))
}

// fuzzSeeds are the valid tokens of every algorithm and every attack token
// of the table, built with tb.
func fuzzSeeds(tb testing.TB) []string {
	var seeds []string
	for _, alg := range testAlgs {
		e := newEnv(tb, alg)
		seeds = append(seeds, e.token(tb, stdHeader, stdClaims))
		for _, a := range attacks() {
			if a.only != "" && a.only != alg {
				continue
			}
			if tok := a.build(tb, e); len(tok) <= MaxTokenLen+16 {
				seeds = append(seeds, tok)
			}
		}
	}
	return append(seeds, rfc7515A1Token, "", ".", "..", "...", "a.b.c", "e30.e30.e30", "e30.e30.", "W10.e30.AA")
}

func FuzzParseToken(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{`{"a":1,"\u0061":2}`, `{"a":[{"b":1},{"b":1}]}`, `{"a\\":1,"a":2}`, `[{"a":"\"","a":1}]`} {
		f.Add(s)
	}
	strict := base64.RawURLEncoding.Strict()
	f.Fuzz(func(t *testing.T, s string) {
		// hasDuplicateNames against the reference, on any valid UTF-8 JSON.
		if data := []byte(s); utf8.Valid(data) && json.Valid(data) {
			if got, want := hasDuplicateNames(data, nil), refHasDuplicateNames(data); got != want {
				t.Fatalf("hasDuplicateNames(%q, nil) = %v, reference %v", s, got, want)
			}
		}

		// The fast path of parseInto accepts exactly what parseChecked
		// accepts with a payload of canonical base64url, with the same
		// values.
		fast, fastSig, fastOK := parseFast(s, nil)
		checked, checkedSig, checkedErr := parseChecked(s, nil)
		var payloadErr error
		if checkedErr == nil {
			_, payloadErr = strict.DecodeString(checked.payload)
		}
		if fastOK != (checkedErr == nil && payloadErr == nil) {
			t.Fatalf("parseFast(%q) ok %v; parseChecked: %v, payload: %v", s, fastOK, checkedErr, payloadErr)
		}
		if fastOK {
			want, _ := strict.DecodeString(checked.payload)
			if fast.header != checked.header || fast.signingInput != checked.signingInput || fast.payload != checked.payload ||
				!bytes.Equal(fastSig, checkedSig) || !fast.isDecoded || fast.decoded != string(want) {
				t.Fatalf("parseFast(%q) = %+v, parseChecked %+v", s, fast, checked)
			}
		}

		p, err := parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedHeader) {
				t.Fatalf("parse error %v is neither ErrMalformed nor ErrUnsupportedHeader", err)
			}
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		// Whatever parses: three non-empty segments of canonical base64url
		// (the payload is decoded later, by Verify), at most MaxTokenLen,
		// a header that is a JSON object without duplicate names or any of
		// the refused parameters.
		if len(s) > MaxTokenLen {
			t.Fatalf("parsed a token of %d bytes", len(s))
		}
		segs := strings.Split(s, ".")
		if len(segs) != 3 || segs[0] == "" || segs[1] == "" || segs[2] == "" {
			t.Fatalf("parsed %q: not three non-empty segments", s)
		}
		for _, c := range []byte(s) {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", rune(c)) {
				t.Fatalf("parsed %q with byte %q", s, c)
			}
		}
		hdr, err := strict.DecodeString(segs[0])
		if err != nil || base64.RawURLEncoding.EncodeToString(hdr) != segs[0] {
			t.Fatalf("parsed %q: header segment not canonical base64url", s)
		}
		sig, err := strict.DecodeString(segs[2])
		if err != nil || base64.RawURLEncoding.EncodeToString(sig) != segs[2] || !bytes.Equal(sig, p.signature) {
			t.Fatalf("parsed %q: signature segment not canonical or not the parsed signature", s)
		}
		if p.signingInput != segs[0]+"."+segs[1] || p.payload != segs[1] {
			t.Fatalf("parsed %q: wrong signing input or payload", s)
		}
		trimmed := bytes.TrimLeft(hdr, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(hdr) {
			t.Fatalf("parsed %q: header %q is not a JSON object", s, hdr)
		}
		if utf8.Valid(hdr) && refHasDuplicateNames(hdr) {
			t.Fatalf("parsed %q: header %q has duplicate names", s, hdr)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(hdr, &m); err != nil {
			t.Fatalf("parsed %q: header %q: %v", s, hdr, err)
		}
		for _, name := range []string{"crit", "jwk", "jku", "x5u", "x5c", "b64", "zip"} {
			if _, ok := m[name]; ok {
				t.Fatalf("parsed %q: header has %q", s, name)
			}
		}
		// The parsed header is what decoding the segment gives (the header
		// cache must not change it).
		var h header
		if err := json.Unmarshal(hdr, &h); err != nil {
			t.Fatalf("parsed %q: header %q: %v", s, hdr, err)
		}
		if !headerEqual(h, p.header) {
			t.Fatalf("parsed %q: header %+v, decoding gives %+v", s, p.header, h)
		}
	})
}

func headerEqual(a header, b joseHeader) bool {
	return a.Alg == b.Alg && a.Typ == b.Typ && a.Kid == b.Kid
}

// fuzzOracle verifies a token's signature independently (golang-jwt's
// signing methods) with the test's own raw public keys, found by the kid the
// header names, with the algorithm pinned to that key. It reports whether
// the signature is one of the keys'.
type fuzzOracle map[string]struct {
	alg Algorithm
	key crypto.PublicKey // []byte for HS256
}

func newFuzzOracle() fuzzOracle {
	o := fuzzOracle{}
	for _, alg := range testAlgs {
		var pub crypto.PublicKey
		if alg == HS256 {
			pub = testHMACSecret
		} else {
			pub = rawKeyOf(alg).(crypto.Signer).Public()
		}
		o[kidOf(alg)] = struct {
			alg Algorithm
			key crypto.PublicKey
		}{alg, pub}
	}
	return o
}

func (o fuzzOracle) signedByAKey(token string) bool {
	p, err := parse(token)
	if err != nil {
		return false
	}
	k, ok := o[p.header.Kid]
	if !ok || p.header.Alg != string(k.alg) {
		return false
	}
	return gjwt.GetSigningMethod(string(k.alg)).Verify(p.signingInput, p.signature, k.key) == nil
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	e := newEnv(f, HS256) // its key set holds all four keys
	noCache, err := NewVerifier(VerifierConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience,
		Now: e.v.cfg.Now, CacheSize: -1})
	require.NoError(f, err)
	oracle := newFuzzOracle()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		c, err := e.v.Verify(ctx, token)
		c2, err2 := noCache.Verify(ctx, token)
		if err == nil {
			if err2 != nil {
				t.Fatalf("the cached verifier accepted what the uncached one refuses: %v", err2)
			}
			if !oracle.signedByAKey(token) {
				t.Fatalf("accepted a token not signed by any key: %q", token)
			}
			if c.Subject == "" || c.ID == "" || c.ExpiresAt.IsZero() || c.Issuer != testIssuer {
				t.Fatalf("accepted claims %+v", c)
			}
			return
		}
		if err2 == nil {
			t.Fatalf("the uncached verifier accepted what the cached one refuses: %v", err)
		}
		var matched []error
		for _, s := range verifySentinels {
			if errors.Is(err, s) {
				matched = append(matched, s)
			}
			if errors.Is(err, s) != errors.Is(err2, s) {
				t.Fatalf("cached and uncached verifiers disagree: %v / %v", err, err2)
			}
		}
		if len(matched) != 1 {
			t.Fatalf("error %v matches %d sentinels", err, len(matched))
		}
		if len(token) >= 8 && strings.Contains(err.Error(), token) {
			t.Fatalf("error %q contains the token", err)
		}
		if errors.Is(err, ErrSignature) && oracle.signedByAKey(token) {
			t.Fatalf("ErrSignature for a token signed by a key: %q", token)
		}
		if c.Subject != "" || c.ID != "" || c2.Subject != "" {
			t.Fatalf("claims returned with error %v", err)
		}
	})
}
