package jwt

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"github.com/keygate/keygate"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verifySentinels are the errors Verifier.Verify reports; each attack must
// give exactly the one it expects.
var verifySentinels = []error{
	ErrMalformed, ErrUnsupportedHeader, ErrUnknownKey, ErrAlgorithm,
	ErrSignature, ErrType, ErrMissingClaim, ErrExpired, ErrNotYetValid,
	ErrIssuer, ErrAudience, ErrRevoked,
}

// attack is one hand-made token and the verdict Verifier.Verify must give.
type attack struct {
	name   string
	only   Algorithm // run only in this algorithm's env; "" in every one
	header string    // JSON template ($alg, $kid); "" is stdHeader
	claims string    // JSON; "" is stdClaims
	// token builds the token itself, instead of header and claims signed
	// with the env's key.
	token func(t testing.TB, e *env) string
	// setup runs before Verify (revocations).
	setup func(t testing.TB, e *env)
	want  error // nil: the token is accepted
}

func (a attack) build(t testing.TB, e *env) string {
	t.Helper()
	if a.token != nil {
		return a.token(t, e)
	}
	h, c := a.header, a.claims
	if h == "" {
		h = stdHeader
	}
	if c == "" {
		c = stdClaims
	}
	return e.token(t, h, c)
}

// unsigned is header.claims. with an empty signature.
func unsigned(header string) func(testing.TB, *env) string {
	return func(_ testing.TB, e *env) string {
		return b64e(e.expand(header)) + "." + b64e(stdClaims) + "."
	}
}

// segments rewrites the segments of a valid token without signing again.
func segments(f func(segs []string) []string) func(testing.TB, *env) string {
	return func(t testing.TB, e *env) string {
		return strings.Join(f(strings.Split(e.token(t, stdHeader, stdClaims), ".")), ".")
	}
}

// resigned rewrites the encoded header and payload, then signs the result
// with the env's key, so that only the rewrite can be refused.
func resigned(f func(e *env, h, p string) (string, string)) func(testing.TB, *env) string {
	return func(t testing.TB, e *env) string {
		h, p := f(e, b64e(e.expand(stdHeader)), b64e(stdClaims))
		return signRaw(t, e.raw, h, p)
	}
}

// withSignature replaces the signature of a valid token (of header and
// claims) by f of its bytes.
func withSignature(header, claims string, f func(t testing.TB, e *env, sig []byte, input string) []byte) func(testing.TB, *env) string {
	return func(t testing.TB, e *env) string {
		if header == "" {
			header = stdHeader
		}
		if claims == "" {
			claims = stdClaims
		}
		tok := e.token(t, header, claims)
		i := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		require.NoError(t, err)
		return tok[:i+1] + base64.RawURLEncoding.EncodeToString(f(t, e, sig, tok[:i]))
	}
}

// tamper flips a bit of the signature of tok.
func tamper(t testing.TB, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	require.NoError(t, err)
	sig[len(sig)/2] ^= 1
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func flipLastBit(_ testing.TB, _ *env, sig []byte, _ string) []byte {
	sig[len(sig)-1] ^= 1
	return sig
}

// signedBy signs header and claims with another key than the env's.
func signedBy(key func(e *env) any, header, claims string) func(testing.TB, *env) string {
	return func(t testing.TB, e *env) string {
		return signRaw(t, key(e), b64e(e.expand(header)), b64e(e.expand(claims)))
	}
}

// nonCanonical sets an unused low bit of the last character of a base64url
// segment: it decodes to the same bytes leniently, but is not canonical.
func nonCanonical(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		panic("segment has no unused bits")
	}
	v := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[v|1])
}

// withUnusedBits pads a JSON object with spaces before its closing brace
// until its base64url form has unused bits.
func withUnusedBits(json string) string {
	for len(json)%3 == 0 {
		json = json[:len(json)-1] + " }"
	}
	return json
}

// stdAlphabet is a JSON object whose standard base64 form has '+' and '/'
// (six equal bytes always contain an aligned triple: "???" is "Pz8/" and
// ">>>" is "Pj4+").
func stdAlphabet(json string) string {
	return json[:len(json)-1] + `,"x":"??????>>>>>>"}`
}

// sizedToken returns a validly signed token of exactly n bytes, padded
// with a long claim.
func sizedToken(t testing.TB, e *env, n int) string {
	t.Helper()
	for hpad := 0; hpad < 4; hpad++ {
		header := stdHeader[:len(stdHeader)-1] + strings.Repeat(" ", hpad) + "}"
		base := len(e.token(t, header, claims("kg_package", `""`)))
		start := max(0, (n-base)*3/4-8)
		for pad := start; pad < start+24; pad++ {
			tok := e.token(t, header, claims("kg_package", `"`+strings.Repeat("a", pad)+`"`))
			if len(tok) == n {
				return tok
			}
		}
	}
	t.Fatalf("no token of %d bytes", n)
	return ""
}

// rsaPublicForms are the encodings of an RSA public key that an attacker
// might use as an HMAC secret.
func rsaPublicForms(pub *rsa.PublicKey) map[string][]byte {
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})
	return map[string][]byte{
		"PEM PKIX":                  pemPKIX,
		"PEM PKIX no final newline": pemPKIX[:len(pemPKIX)-1],
		"PEM PKCS1":                 pemPKCS1,
		"DER PKIX":                  pkix,
		"DER PKCS1":                 pkcs1,
		"modulus":                   pub.N.Bytes(),
	}
}

// attacks is the table of TestVerifyAttacks; FuzzVerify seeds its corpus
// with the same tokens.
func attacks() []attack {
	ctx := context.Background()
	const hdrNone = `{"alg":"none","kid":"$kid","typ":"at+jwt"}`
	list := []attack{
		{name: "valid"},
		{name: "valid, header members reordered, unknown member", header: `{"typ":"at+jwt","x-unknown":{"a":[1]},"kid":"$kid","alg":"$alg"}`},
		{name: "valid, whitespace in JSON", header: " {\r\n\t\"alg\" : \"$alg\" , \"kid\":\"$kid\",\"typ\":\"at+jwt\" }\n", claims: " " + stdClaims + "\n"},

		// alg none and algorithm confusion: the key's pinned algorithm wins.
		{name: "alg none, empty signature", token: unsigned(hdrNone), want: ErrMalformed},
		{name: "alg NONE, empty signature", token: unsigned(`{"alg":"NONE","kid":"$kid","typ":"at+jwt"}`), want: ErrMalformed},
		{name: "alg None, empty signature", token: unsigned(`{"alg":"None","kid":"$kid","typ":"at+jwt"}`), want: ErrMalformed},
		{name: "alg nOnE without kid, empty signature", token: unsigned(`{"alg":"nOnE","typ":"at+jwt"}`), want: ErrMalformed},
		{name: "alg none, signed", header: hdrNone, want: ErrAlgorithm},
		{name: "alg NONE, signed", header: `{"alg":"NONE","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg None, signed", header: `{"alg":"None","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg none without kid, signed", header: `{"alg":"none","typ":"at+jwt"}`, want: ErrUnknownKey},
		{name: "alg missing", header: `{"kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg empty", header: `{"alg":"","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg null", header: `{"alg":null,"kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg not a string", header: `{"alg":256,"kid":"$kid","typ":"at+jwt"}`, want: ErrMalformed},
		{name: "alg with trailing space", header: `{"alg":"$alg ","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg in lower case", only: HS256, header: `{"alg":"hs256","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg in lower case", only: RS256, header: `{"alg":"rs256","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg PS256 on an RSA key", only: RS256, header: `{"alg":"PS256","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg RS256 header on the HS256 key", only: HS256, header: `{"alg":"RS256","kid":"$kid","typ":"at+jwt"}`, want: ErrAlgorithm},
		{name: "alg RS256 header on the HS256 key, RSA-signed", only: HS256,
			token: signedBy(func(*env) any { return testRSAKeys()[0] }, `{"alg":"RS256","kid":"$kid","typ":"at+jwt"}`, stdClaims), want: ErrAlgorithm},
		{name: "alg HS256 header on the key, signed with the HS256 key", only: RS256,
			token: signedBy(func(*env) any { return testHMACSecret }, `{"alg":"HS256","kid":"$kid","typ":"at+jwt"}`, stdClaims), want: ErrAlgorithm},
		{name: "alg HS256 header on the key, signed with the HS256 key", only: ES256,
			token: signedBy(func(*env) any { return testHMACSecret }, `{"alg":"HS256","kid":"$kid","typ":"at+jwt"}`, stdClaims), want: ErrAlgorithm},
		{name: "alg ES256 header on the EdDSA key", only: EdDSA,
			token: signedBy(func(*env) any { return testECKeys()[0] }, `{"alg":"ES256","kid":"$kid","typ":"at+jwt"}`, stdClaims), want: ErrAlgorithm},
		// The raw Ed25519 public key is 32 bytes: a valid HMAC secret size.
		{name: "HS256 signed with the Ed25519 public key as secret", only: EdDSA,
			token: signedBy(func(*env) any { return []byte(testEdKeys[0].Public().(ed25519.PublicKey)) }, `{"alg":"HS256","kid":"$kid","typ":"at+jwt"}`, stdClaims), want: ErrAlgorithm},
		{name: "HS256 signed with the EC public point as secret", only: ES256,
			token: signedBy(func(*env) any {
				b, err := testECKeys()[0].PublicKey.Bytes()
				if err != nil {
					panic(err)
				}
				return b
			}, `{"alg":"HS256","kid":"$kid","typ":"at+jwt"}`, stdClaims), want: ErrAlgorithm},

		// Keys the token names or carries are never used.
		{name: "embedded jwk", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","jwk":{"kty":"oct","k":"YXR0YWNrZXItc2VjcmV0LWF0dGFja2VyLXNlY3JldC0"}}`, want: ErrUnsupportedHeader},
		{name: "embedded jwk null", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","jwk":null}`, want: ErrUnsupportedHeader},
		{name: "jku", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","jku":"https://attacker.example/jwks.json"}`, want: ErrUnsupportedHeader},
		{name: "jku empty", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","jku":""}`, want: ErrUnsupportedHeader},
		{name: "x5u", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","x5u":"https://attacker.example/cert.pem"}`, want: ErrUnsupportedHeader},
		{name: "x5c", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}`, want: ErrUnsupportedHeader},
		{name: "x5c without kid", header: `{"alg":"$alg","typ":"at+jwt","x5c":[]}`, want: ErrUnsupportedHeader},
		{name: "crit [exp]", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","crit":["exp"],"exp":1}`, want: ErrUnsupportedHeader},
		{name: "crit empty", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","crit":[]}`, want: ErrUnsupportedHeader},
		{name: "crit null", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","crit":null}`, want: ErrUnsupportedHeader},
		{name: "crit [b64] with b64 false", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","crit":["b64"],"b64":false}`, want: ErrUnsupportedHeader},
		{name: "b64 false", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","b64":false}`, want: ErrUnsupportedHeader},
		{name: "b64 true", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","b64":true}`, want: ErrUnsupportedHeader},
		{name: "zip", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","zip":"DEF"}`, want: ErrUnsupportedHeader},
		{name: "crit and an unknown kid", header: `{"alg":"$alg","kid":"nobody","typ":"at+jwt","crit":["x"],"x":1}`, want: ErrUnsupportedHeader},

		// Compact serialization, strict base64url.
		{name: "padding on the header", token: resigned(func(_ *env, h, p string) (string, string) { return h + "=", p }), want: ErrMalformed},
		{name: "padding on the payload", token: resigned(func(_ *env, h, p string) (string, string) { return h, p + "==" }), want: ErrMalformed},
		{name: "padding on the signature", token: segments(func(s []string) []string { s[2] += "="; return s }), want: ErrMalformed},
		{name: "padding alone as signature", token: segments(func(s []string) []string { s[2] = "=="; return s }), want: ErrMalformed},
		{name: "non-canonical header", token: resigned(func(e *env, _, p string) (string, string) {
			return nonCanonical(b64e(withUnusedBits(e.expand(stdHeader)))), p
		}), want: ErrMalformed},
		{name: "non-canonical payload", token: resigned(func(_ *env, h, _ string) (string, string) {
			return h, nonCanonical(b64e(withUnusedBits(stdClaims)))
		}), want: ErrMalformed},
		{name: "non-canonical signature", token: segments(func(s []string) []string { s[2] = nonCanonical(s[2]); return s }), want: ErrMalformed},
		{name: "standard alphabet in the header", token: resigned(func(e *env, _, p string) (string, string) {
			return base64.RawStdEncoding.EncodeToString([]byte(stdAlphabet(e.expand(stdHeader)))), p
		}), want: ErrMalformed},
		{name: "standard alphabet in the payload", token: resigned(func(_ *env, h, _ string) (string, string) {
			return h, base64.RawStdEncoding.EncodeToString([]byte(stdAlphabet(stdClaims)))
		}), want: ErrMalformed},
		{name: "standard alphabet in the signature", token: func(t testing.TB, e *env) string {
			for i := 0; ; i++ {
				tok := e.token(t, stdHeader, claims("jti", `"`+itoa(int64(i))+`"`))
				if j := strings.LastIndexByte(tok, '.'); strings.ContainsAny(tok[j:], "-_") {
					return tok[:j] + strings.NewReplacer("-", "+", "_", "/").Replace(tok[j:])
				}
			}
		}, want: ErrMalformed},
		{name: "newline in the payload", token: resigned(func(_ *env, h, p string) (string, string) { return h, p[:10] + "\n" + p[10:] }), want: ErrMalformed},
		{name: "CRLF in the header", token: resigned(func(_ *env, h, p string) (string, string) { return h[:8] + "\r\n" + h[8:], p }), want: ErrMalformed},
		{name: "space in the payload", token: resigned(func(_ *env, h, p string) (string, string) { return h, p[:4] + " " + p[4:] }), want: ErrMalformed},
		{name: "tab in the signature", token: segments(func(s []string) []string { s[2] = s[2][:5] + "\t" + s[2][5:]; return s }), want: ErrMalformed},
		{name: "newline in the signature", token: segments(func(s []string) []string { s[2] = s[2][:5] + "\n" + s[2][5:]; return s }), want: ErrMalformed},
		{name: "leading space", token: segments(func(s []string) []string { s[0] = " " + s[0]; return s }), want: ErrMalformed},
		{name: "trailing newline", token: segments(func(s []string) []string { s[2] += "\n"; return s }), want: ErrMalformed},
		{name: "trailing NUL", token: segments(func(s []string) []string { s[2] += "\x00"; return s }), want: ErrMalformed},
		{name: "Bearer prefix", token: segments(func(s []string) []string { s[0] = "Bearer " + s[0]; return s }), want: ErrMalformed},

		// Segments.
		{name: "empty token", token: func(testing.TB, *env) string { return "" }, want: ErrMalformed},
		{name: "one segment", token: segments(func(s []string) []string { return s[:1] }), want: ErrMalformed},
		{name: "two segments", token: segments(func(s []string) []string { return s[:2] }), want: ErrMalformed},
		{name: "two segments and a dot", token: segments(func(s []string) []string { return []string{s[0], s[1] + "."} }), want: ErrMalformed},
		{name: "four segments", token: segments(func(s []string) []string { return append(s, s[2]) }), want: ErrMalformed},
		{name: "four segments, last empty", token: segments(func(s []string) []string { return append(s, "") }), want: ErrMalformed},
		{name: "empty header", token: segments(func(s []string) []string { s[0] = ""; return s }), want: ErrMalformed},
		{name: "empty payload", token: resigned(func(_ *env, h, _ string) (string, string) { return h, "" }), want: ErrMalformed},
		{name: "empty signature", token: segments(func(s []string) []string { s[2] = ""; return s }), want: ErrMalformed},
		{name: "only dots", token: func(testing.TB, *env) string { return ".." }, want: ErrMalformed},
		{name: "JWE, five segments", token: func(_ testing.TB, e *env) string {
			return b64e(e.expand(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"$kid","typ":"at+jwt"}`)) +
				".OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ"
		}, want: ErrMalformed},
		{name: "JSON serialization", token: func(t testing.TB, e *env) string {
			s := strings.Split(e.token(t, stdHeader, stdClaims), ".")
			return `{"payload":"` + s[1] + `","protected":"` + s[0] + `","signature":"` + s[2] + `"}`
		}, want: ErrMalformed},

		// Size: checked before any parsing.
		{name: "exactly MaxTokenLen", token: func(t testing.TB, e *env) string { return sizedToken(t, e, MaxTokenLen) }},
		{name: "MaxTokenLen+1, validly signed", token: func(t testing.TB, e *env) string { return sizedToken(t, e, MaxTokenLen+1) }, want: ErrMalformed},
		{name: "1 MiB of garbage", token: func(testing.TB, *env) string { return strings.Repeat("a.", 1<<19) }, want: ErrMalformed},

		// Duplicate member names, at any depth and however escaped.
		{name: "duplicate alg", header: `{"alg":"none","alg":"$alg","kid":"$kid","typ":"at+jwt"}`, want: ErrMalformed},
		{name: "duplicate alg, same value", header: `{"alg":"$alg","alg":"$alg","kid":"$kid","typ":"at+jwt"}`, want: ErrMalformed},
		{name: `duplicate alg spelt \u0061lg`, header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","\u0061lg":"none"}`, want: ErrMalformed},
		{name: "duplicate kid", header: `{"alg":"$alg","kid":"nobody","kid":"$kid","typ":"at+jwt"}`, want: ErrMalformed},
		{name: "duplicate typ", header: `{"alg":"$alg","kid":"$kid","typ":"JWT","t\u0079p":"at+jwt"}`, want: ErrMalformed},
		{name: "duplicate crit hidden by escape", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","cr\u0069t":["exp"],"crit":[]}`, want: ErrMalformed},
		{name: "duplicate sub", claims: stdClaims[:len(stdClaims)-1] + `,"sub":"acct_other"}`, want: ErrMalformed},
		{name: "duplicate exp, first expired", claims: `{"exp":1,` + stdClaims[1:], want: ErrMalformed},
		{name: `duplicate aud spelt \u0061ud`, claims: stdClaims[:len(stdClaims)-1] + `,"\u0061ud":"other"}`, want: ErrMalformed},
		{name: "duplicate in a nested claim object", claims: claims("kg_extra", `{"a":1,"b":{"c":1,"c":2}}`), want: ErrMalformed},
		{name: "duplicate in an object in an array", claims: claims("kg_extra", `[1,{"a":1},{"a":1,"a":2}]`), want: ErrMalformed},
		{name: "same name in sibling objects is fine", claims: claims("kg_extra", `[{"a":1},{"a":2},{"sub":3}]`)},
		{name: "name inside a string value is fine", claims: claims("kg_extra", `"\",\"sub\":\"x"`)},

		// Member names are case-sensitive (RFC 7515 §4, RFC 7519 §4):
		// "ALG" is not "alg", and "EXP" is not "exp". encoding/json matches
		// struct fields case-insensitively, so a strict decoder must not
		// rely on it.
		// encoding/json would match these to the known member case-
		// insensitively, while other libraries ignore them: keygate
		// refuses a name that differs from a known one only in case.
		{name: "header names in upper case", header: `{"ALG":"$alg","KID":"$kid","TYP":"at+jwt"}`, want: ErrMalformed},
		{name: "Kid instead of kid", header: `{"alg":"$alg","Kid":"$kid","typ":"at+jwt"}`, want: ErrMalformed},
		{name: "exp expired, EXP far ahead", claims: claims("exp", at(-time.Hour), "EXP", "9999999999"), want: ErrMalformed},
		{name: "Sub instead of sub", claims: claims("sub", "-", "Sub", `"`+testSubject+`"`), want: ErrMalformed},
		{name: "Kelvin sign in kid", header: "{\"alg\":\"$alg\",\"\u212aid\":\"$kid\",\"typ\":\"at+jwt\"}", want: ErrMalformed},

		// Header and payload must be JSON objects.
		{name: "header is an array", header: `["alg","$alg","kid","$kid"]`, want: ErrMalformed},
		{name: "header is a string", header: `"$alg"`, want: ErrMalformed},
		{name: "header is null", header: `null`, want: ErrMalformed},
		{name: "header is a number", header: `1`, want: ErrMalformed},
		{name: "header is invalid JSON", header: `{"alg":"$alg","kid":"$kid"`, want: ErrMalformed},
		{name: "header has trailing data", header: stdHeader + `{}`, want: ErrMalformed},
		{name: "header has a trailing comma", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt",}`, want: ErrMalformed},
		{name: "header has a BOM", header: "\ufeff" + stdHeader, want: ErrMalformed},
		{name: "kid not a string", header: `{"alg":"$alg","kid":1,"typ":"at+jwt"}`, want: ErrMalformed},
		{name: "typ not a string", header: `{"alg":"$alg","kid":"$kid","typ":["at+jwt"]}`, want: ErrMalformed},
		{name: "payload is an array", claims: `[` + stdClaims + `]`, want: ErrMalformed},
		{name: "payload is a string", claims: `"` + testSubject + `"`, want: ErrMalformed},
		{name: "payload is null", claims: `null`, want: ErrMalformed},
		{name: "payload is invalid JSON", claims: stdClaims[:len(stdClaims)-1], want: ErrMalformed},
		{name: "payload has trailing data", claims: stdClaims + "x", want: ErrMalformed},

		// Key IDs.
		{name: "unknown kid", header: `{"alg":"$alg","kid":"nobody","typ":"at+jwt"}`, want: ErrUnknownKey},
		{name: "missing kid", header: `{"alg":"$alg","typ":"at+jwt"}`, want: ErrUnknownKey},
		{name: "empty kid", header: `{"alg":"$alg","kid":"","typ":"at+jwt"}`, want: ErrUnknownKey},
		{name: "kid in another case", header: `{"alg":"$alg","kid":"HS-1","typ":"at+jwt"}`, want: ErrUnknownKey},
		{name: "kid with a NUL", header: `{"alg":"$alg","kid":"$kid\u0000","typ":"at+jwt"}`, want: ErrUnknownKey},
		{name: "kid of another algorithm's key", only: HS256, header: `{"alg":"$alg","kid":"` + kidRS + `","typ":"at+jwt"}`, want: ErrAlgorithm},

		// Signatures.
		{name: "bad signature", token: withSignature("", "", flipLastBit), want: ErrSignature},
		{name: "bad signature, first byte", token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte { s[0] ^= 0x80; return s }), want: ErrSignature},
		{name: "truncated signature", token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte { return s[:len(s)-1] }), want: ErrSignature},
		{name: "signature with a zero byte prepended", token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte { return append([]byte{0}, s...) }), want: ErrSignature},
		{name: "signature with a zero byte appended", token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte { return append(s, 0) }), want: ErrSignature},
		{name: "one-byte signature", token: withSignature("", "", func(testing.TB, *env, []byte, string) []byte { return []byte{0} }), want: ErrSignature},
		{name: "all-zero signature", token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte { return make([]byte, len(s)) }), want: ErrSignature},
		{name: "signed by another key of the same algorithm", token: signedBy(func(e *env) any { return otherRawKeyOf(e.alg) }, stdHeader, stdClaims), want: ErrSignature},
		{name: "signature of another token", token: func(t testing.TB, e *env) string {
			a := e.token(t, stdHeader, claims("sub", `"acct_a"`))
			b := e.token(t, stdHeader, claims("sub", `"acct_b"`))
			return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
		}, want: ErrSignature},
		{name: "payload changed after signing", token: func(t testing.TB, e *env) string {
			s := strings.Split(e.token(t, stdHeader, stdClaims), ".")
			s[1] = b64e(claims("sub", `"acct_admin"`))
			return strings.Join(s, ".")
		}, want: ErrSignature},
		{name: "bad signature on an expired token", token: withSignature("", claims("exp", at(-time.Hour), "iat", at(-2*time.Hour)), flipLastBit), want: ErrSignature},
		{name: "bad signature, wrong typ", token: withSignature(`{"alg":"$alg","kid":"$kid","typ":"JWT"}`, "", flipLastBit), want: ErrSignature},
		{name: "bad signature, wrong iss", token: withSignature("", claims("iss", `"https://evil.example"`), flipLastBit), want: ErrSignature},
		{name: "bad signature, missing exp", token: withSignature("", claims("exp", "-"), flipLastBit), want: ErrSignature},
		{name: "bad signature, payload not JSON", token: withSignature("", "not json", flipLastBit), want: ErrSignature},
		{name: "bad signature, revoked", token: withSignature("", "", flipLastBit), setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeToken(ctx, testJTI, testNow.Add(time.Hour)))
		}, want: ErrSignature},
		{name: "bad signature, unknown kid", token: withSignature(`{"alg":"$alg","kid":"nobody","typ":"at+jwt"}`, "", flipLastBit), want: ErrUnknownKey},
		{name: "bad signature, alg none", token: withSignature(hdrNone, "", flipLastBit), want: ErrAlgorithm},
		{name: "DER signature", only: ES256, token: withSignature("", "", func(t testing.TB, _ *env, s []byte, _ string) []byte {
			der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(s[:32]), new(big.Int).SetBytes(s[32:])})
			require.NoError(t, err)
			return der
		}), want: ErrSignature},
		{name: "r and s swapped", only: ES256, token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte {
			return append(append([]byte(nil), s[32:]...), s[:32]...)
		}), want: ErrSignature},
		{name: "r||s with 33-byte halves", only: ES256, token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte {
			return append(append(append([]byte{0}, s[:32]...), 0), s[32:]...)
		}), want: ErrSignature},
		{name: "r = s = 0", only: ES256, token: withSignature("", "", func(testing.TB, *env, []byte, string) []byte { return make([]byte, 64) }), want: ErrSignature},
		{name: "s replaced by n", only: ES256, token: withSignature("", "", func(_ testing.TB, _ *env, s []byte, _ string) []byte {
			testECKeys()[0].Curve.Params().N.FillBytes(s[32:])
			return s
		}), want: ErrSignature},

		// Type: only access tokens.
		{name: "typ JWT", header: `{"alg":"$alg","kid":"$kid","typ":"JWT"}`, want: ErrType},
		{name: "typ missing", header: `{"alg":"$alg","kid":"$kid"}`, want: ErrType},
		{name: "typ empty", header: `{"alg":"$alg","kid":"$kid","typ":""}`, want: ErrType},
		{name: "typ application/jwt", header: `{"alg":"$alg","kid":"$kid","typ":"application/jwt"}`, want: ErrType},
		{name: "typ refresh+jwt", header: `{"alg":"$alg","kid":"$kid","typ":"refresh+jwt"}`, want: ErrType},
		{name: "typ with a trailing space", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt "}`, want: ErrType},
		{name: "typ application/ alone", header: `{"alg":"$alg","kid":"$kid","typ":"application/"}`, want: ErrType},
		{name: "typ application/application/at+jwt", header: `{"alg":"$alg","kid":"$kid","typ":"application/application/at+jwt"}`, want: ErrType},
		{name: "typ application/at+jwt", header: `{"alg":"$alg","kid":"$kid","typ":"application/at+jwt"}`},
		{name: "typ AT+JWT", header: `{"alg":"$alg","kid":"$kid","typ":"AT+JWT"}`},
		{name: "typ Application/At+Jwt", header: `{"alg":"$alg","kid":"$kid","typ":"Application/At+Jwt"}`},
		{name: "cty JWT, nested token", header: `{"alg":"$alg","kid":"$kid","typ":"at+jwt","cty":"JWT"}`},

		// Required claims.
		{name: "missing exp", claims: claims("exp", "-"), want: ErrMissingClaim},
		{name: "missing iat", claims: claims("iat", "-"), want: ErrMissingClaim},
		{name: "missing sub", claims: claims("sub", "-"), want: ErrMissingClaim},
		{name: "empty sub", claims: claims("sub", `""`), want: ErrMissingClaim},
		{name: "missing jti", claims: claims("jti", "-"), want: ErrMissingClaim},
		{name: "empty jti", claims: claims("jti", `""`), want: ErrMissingClaim},
		{name: "empty payload object", claims: `{}`, want: ErrMissingClaim},
		// errors.go documents iss and aud among the claims whose absence
		// is ErrMissingClaim.
		{name: "missing iss", claims: claims("iss", "-"), want: ErrMissingClaim},
		{name: "missing aud", claims: claims("aud", "-"), want: ErrMissingClaim},

		// NumericDate: numbers in range only.
		{name: "exp as a string", claims: claims("exp", `"9999999999"`), want: ErrMalformed},
		{name: "exp as a numeric string in range", claims: claims("exp", `"`+at(time.Hour)+`"`), want: ErrMalformed},
		// claims.go: "Strings, null, negative values and dates after the
		// year 9999 are refused"; doc.go: exp, nbf, iat "that are not
		// numbers in range" are refused.
		{name: "exp null", claims: claims("exp", `null`), want: ErrMalformed},
		{name: "exp negative", claims: claims("exp", `-1`), want: ErrMalformed},
		{name: "exp minus zero", claims: claims("exp", `-0`), want: ErrMalformed},
		{name: "exp 1e400", claims: claims("exp", `1e400`), want: ErrMalformed},
		{name: "exp after the year 9999", claims: claims("exp", `253402300800`), want: ErrMalformed},
		{name: "exp the last second of 9999", claims: claims("exp", `253402300799`)},
		{name: "exp true", claims: claims("exp", `true`), want: ErrMalformed},
		{name: "exp an object", claims: claims("exp", `{"n":1}`), want: ErrMalformed},
		{name: "exp an array", claims: claims("exp", `[`+at(time.Hour)+`]`), want: ErrMalformed},
		{name: "exp with a fraction", claims: claims("exp", at(10*time.Minute)+".75")},
		{name: "exp in exponent notation", claims: claims("exp", "1.7000006e9")},
		{name: "iat as a string", claims: claims("iat", `"`+at(-time.Minute)+`"`), want: ErrMalformed},
		{name: "iat null", claims: claims("iat", `null`), want: ErrMalformed},
		{name: "iat negative", claims: claims("iat", `-60`), want: ErrMalformed},
		{name: "nbf as a string", claims: claims("nbf", `"`+at(-time.Minute)+`"`), want: ErrMalformed},
		{name: "nbf null", claims: claims("nbf", `null`), want: ErrMalformed},
		{name: "nbf 1e400", claims: claims("nbf", `1e400`), want: ErrMalformed},

		// Time, with the injected clock and the default 30 s leeway.
		{name: "exp now", claims: claims("exp", at(0))},
		{name: "exp 29 s ago, within leeway", claims: claims("exp", at(-29*time.Second))},
		{name: "exp 30 s ago, at the leeway", claims: claims("exp", at(-30*time.Second)), want: ErrExpired},
		{name: "exp 31 s ago, past leeway", claims: claims("exp", at(-31*time.Second)), want: ErrExpired},
		{name: "exp long ago", claims: claims("exp", `1`, "iat", `0`), want: ErrExpired},
		{name: "nbf now", claims: claims("nbf", at(0))},
		{name: "nbf 30 s ahead, within leeway", claims: claims("nbf", at(30*time.Second))},
		{name: "nbf 31 s ahead, beyond leeway", claims: claims("nbf", at(31*time.Second)), want: ErrNotYetValid},
		{name: "nbf an hour ahead", claims: claims("nbf", at(time.Hour)), want: ErrNotYetValid},
		{name: "iat 30 s ahead, within leeway", claims: claims("iat", at(30*time.Second))},
		{name: "iat 31 s ahead, beyond leeway", claims: claims("iat", at(31*time.Second)), want: ErrNotYetValid},
		{name: "iat a day ahead", claims: claims("iat", at(24*time.Hour), "exp", at(25*time.Hour)), want: ErrNotYetValid},
		{name: "expired and wrong iss", claims: claims("exp", at(-time.Hour), "iss", `"https://evil.example"`), want: ErrExpired},

		// Issuer and audience.
		{name: "wrong iss", claims: claims("iss", `"https://evil.example"`), want: ErrIssuer},
		{name: "iss in another case", claims: claims("iss", `"HTTPS://ISSUER.EXAMPLE"`), want: ErrIssuer},
		{name: "iss with a trailing slash", claims: claims("iss", `"`+testIssuer+`/"`), want: ErrIssuer},
		{name: "iss as an array", claims: claims("iss", `["`+testIssuer+`"]`), want: ErrMalformed},
		{name: "aud as a string", claims: claims("aud", `"api"`)},
		{name: "aud array containing the audience", claims: claims("aud", `["other","api"]`)},
		{name: "aud array of one", claims: claims("aud", `["api"]`)},
		{name: "aud array without the audience", claims: claims("aud", `["other","api2"]`), want: ErrAudience},
		{name: "aud wrong string", claims: claims("aud", `"other"`), want: ErrAudience},
		{name: "aud in another case", claims: claims("aud", `"API"`), want: ErrAudience},
		{name: "aud empty array", claims: claims("aud", `[]`), want: ErrAudience},
		{name: "aud space-separated string", claims: claims("aud", `"other api"`), want: ErrAudience},
		{name: "aud a number", claims: claims("aud", `5`), want: ErrMalformed},
		{name: "aud array of numbers", claims: claims("aud", `[1]`), want: ErrMalformed},
		{name: "aud null", claims: claims("aud", `null`), want: ErrMalformed},
		{name: "kg_permissions not an array", claims: claims("kg_permissions", `"orders:read"`), want: ErrMalformed},
		{name: "sub not a string", claims: claims("sub", `42`), want: ErrMalformed},

		// Revocation.
		{name: "revoked jti", setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeToken(ctx, testJTI, testNow.Add(time.Hour)))
		}, want: ErrRevoked},
		{name: "another jti revoked", setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeToken(ctx, "jti-other", testNow.Add(time.Hour)))
		}},
		{name: "subject revoked after iat", setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeSubject(ctx, testSubject, testNow.Add(-30*time.Second)))
		}, want: ErrRevoked},
		{name: "subject revoked before iat", setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeSubject(ctx, testSubject, testNow.Add(-90*time.Second)))
		}},
		{name: "subject revoked at iat", setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeSubject(ctx, testSubject, testNow.Add(-60*time.Second)))
		}},
		{name: "another subject revoked", setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeSubject(ctx, "acct_other", testNow))
		}},
		{name: "revoked and expired", claims: claims("exp", at(-time.Hour)), setup: func(t testing.TB, e *env) {
			require.NoError(t, e.v.Denylist().RevokeToken(ctx, testJTI, testNow.Add(time.Hour)))
		}, want: ErrExpired},
	}
	// HS256 signed with the RS256 key's public key as the HMAC secret,
	// against the RS256 kid, in every encoding of the public key.
	for form, secret := range rsaPublicForms(&testRSAKeys()[0].PublicKey) {
		list = append(list, attack{
			name:  "HS256 signed with the RSA public key as secret, " + form,
			only:  RS256,
			token: signedBy(func(*env) any { return secret }, `{"alg":"HS256","kid":"$kid","typ":"at+jwt"}`, stdClaims),
			want:  ErrAlgorithm,
		})
	}
	return list
}

// assertNoLeak checks that an error says nothing of the token.
func assertNoLeak(t testing.TB, err error, token string) {
	t.Helper()
	msg := err.Error()
	if token != "" {
		assert.NotContains(t, msg, token, "error contains the token")
	}
	for _, seg := range strings.Split(token, ".") {
		if len(seg) >= 8 {
			assert.NotContains(t, msg, seg, "error contains a token segment")
		}
	}
	for _, v := range []string{testSubject, testJTI, string(testHMACSecret)} {
		assert.NotContains(t, msg, v, "error contains a claim value or secret")
	}
}

// assertOnly checks that err is want and no other verification sentinel.
func assertOnly(t testing.TB, err, want error) {
	t.Helper()
	require.ErrorIs(t, err, want)
	for _, s := range verifySentinels {
		if s != want {
			assert.NotErrorIs(t, err, s, "error %q also matches %q", err, s)
		}
	}
}

func TestVerifyAttacks(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(string(alg), func(t *testing.T) {
			for _, a := range attacks() {
				if a.only != "" && a.only != alg {
					continue
				}
				t.Run(a.name, func(t *testing.T) {
					e := newEnv(t, alg)
					tok := a.build(t, e)
					if a.setup != nil {
						a.setup(t, e)
					}
					c, err := e.v.Verify(context.Background(), tok)
					if a.want == nil {
						require.NoError(t, err)
						assert.Equal(t, testSubject, c.Subject)
						assert.Equal(t, testJTI, c.ID)
						return
					}
					require.Error(t, err, "accepted: %.200s", tok)
					assertOnly(t, err, a.want)
					assert.Zero(t, c, "claims returned with an error")
					assertNoLeak(t, err, tok)
				})
			}
		})
	}
}

// TestVerifyClaims checks the claims a valid token yields.
func TestVerifyClaims(t *testing.T) {
	e := newEnv(t, HS256)
	tok := e.token(t, stdHeader, claims("nbf", at(-2*time.Minute), "kg_package", `"pro"`,
		"kg_stores", `["store_1","store_2"]`, "kg_allowed_ips", `["10.0.0.0/8"]`, "aud", `["other","api"]`,
		"exp", at(10*time.Minute)+".9", "x-unknown", `{"nested":[1,2]}`))
	c, err := e.v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, Claims{
		Issuer:    testIssuer,
		Subject:   testSubject,
		Audience:  []string{"other", "api"},
		ExpiresAt: testNow.Add(10 * time.Minute),
		IssuedAt:  testNow.Add(-time.Minute),
		NotBefore: testNow.Add(-2 * time.Minute),
		ID:        testJTI,
		ClientID:  "ck_1",
		Scope:     "orders:read orders:write",
		Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        "test",
			Package:     "pro",
			Permissions: []string{"orders:read"},
			Stores:      []string{"store_1", "store_2"},
			AllowedIPs:  []string{"10.0.0.0/8"},
		},
	}, c)
}

// TestVerifyNeverFetches checks that jku and x5u are refused without any
// request to them.
func TestVerifyNeverFetches(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()
	for _, alg := range testAlgs {
		e := newEnv(t, alg)
		for _, h := range []string{
			`{"alg":"$alg","kid":"$kid","typ":"at+jwt","jku":"` + srv.URL + `/jwks.json"}`,
			`{"alg":"$alg","typ":"at+jwt","jku":"` + srv.URL + `/jwks.json"}`,
			`{"alg":"$alg","kid":"$kid","typ":"at+jwt","x5u":"` + srv.URL + `/cert.pem"}`,
		} {
			_, err := e.v.Verify(context.Background(), e.token(t, h, stdClaims))
			assertOnly(t, err, ErrUnsupportedHeader)
		}
	}
	assert.Zero(t, hits.Load(), "a jku or x5u URL was fetched")
}

// mutableClock is an injectable clock that tests move.
type mutableClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *mutableClock {
	c := new(mutableClock)
	c.set(t)
	return c
}
func (c *mutableClock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *mutableClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// TestIssueVerifyClock follows an issued token through its lifetime on an
// injected clock moving forward, for every algorithm, several leeways, with
// and without the verified-token cache.
func TestIssueVerifyClock(t *testing.T) {
	for _, alg := range testAlgs {
		for _, tc := range []struct {
			leeway, effective time.Duration
			cache             int
		}{
			{0, DefaultLeeway, 0},
			{0, DefaultLeeway, -1},
			{5 * time.Second, 5 * time.Second, 0},
			{-1, 0, 0},
			{-1, 0, -1},
		} {
			t.Run(fmt.Sprintf("%s/leeway %v/cache %d", alg, tc.leeway, tc.cache), func(t *testing.T) {
				e := newEnv(t, alg)
				clock := newClock(testNow.Add(123 * time.Millisecond))
				iss, err := NewIssuer(IssuerConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience, AccessTTL: 10 * time.Minute, Now: clock.now})
				require.NoError(t, err)
				v, err := NewVerifier(VerifierConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience, Leeway: tc.leeway, Now: clock.now, CacheSize: tc.cache})
				require.NoError(t, err)
				tok, issued, err := iss.Issue(t.Context(), Claims{Subject: testSubject, Scope: "s"})
				require.NoError(t, err)
				assert.Equal(t, testNow, issued.IssuedAt, "iat is truncated to the second")
				assert.Equal(t, testNow.Add(10*time.Minute), issued.ExpiresAt)
				ctx := context.Background()
				bad := tamper(t, tok)

				// Before iat - leeway: not yet valid; from then on, valid.
				clock.set(issued.IssuedAt.Add(-tc.effective - time.Second))
				_, err = v.Verify(ctx, tok)
				assertOnly(t, err, ErrNotYetValid)
				clock.set(issued.IssuedAt.Add(-tc.effective))
				got, err := v.Verify(ctx, tok)
				require.NoError(t, err)
				assert.Equal(t, issued, got)
				for range 2 { // the second time from the cache, if any
					clock.set(issued.ExpiresAt.Add(tc.effective - time.Nanosecond))
					got, err = v.Verify(ctx, tok)
					require.NoError(t, err)
					assert.Equal(t, issued, got)
				}
				_, err = v.Verify(ctx, bad)
				assertOnly(t, err, ErrSignature)

				// From exp + leeway on: expired; a tampered signature stays
				// a bad signature.
				for _, d := range []time.Duration{0, time.Second, time.Hour} {
					clock.set(issued.ExpiresAt.Add(tc.effective + d))
					c, err := v.Verify(ctx, tok)
					assertOnly(t, err, ErrExpired)
					assert.Zero(t, c)
					_, err = v.Verify(ctx, bad)
					assertOnly(t, err, ErrSignature)
				}
			})
		}
	}
}

// TestIssuer checks the header and claims of issued tokens.
func TestIssuer(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, alg)
			iss, err := NewIssuer(IssuerConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return testNow }})
			require.NoError(t, err)
			assert.Equal(t, DefaultAccessTTL, iss.AccessTTL())

			tok, c, err := iss.Issue(t.Context(), Claims{Subject: testSubject, Issuer: "ignored", ID: "ignored", Grant: keygate.Grant{Account: "acct_1", Mode: "live"}})
			require.NoError(t, err)
			assert.Equal(t, testIssuer, c.Issuer)
			assert.Equal(t, []string{testAudience}, c.Audience)
			assert.Equal(t, testNow.Add(15*time.Minute), c.ExpiresAt)
			assert.NotEqual(t, "ignored", c.ID)
			assert.GreaterOrEqual(t, len(c.ID), 16)

			p, err := parse(tok)
			require.NoError(t, err)
			assert.Equal(t, joseHeader{Alg: string(alg), Typ: TypeAccessToken, Kid: e.kid}, p.header)
			hdr, err := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
			require.NoError(t, err)
			assert.JSONEq(t, `{"alg":"`+string(alg)+`","kid":"`+e.kid+`","typ":"at+jwt"}`, string(hdr), "no other header member")

			got, err := e.v.Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, c, got)

			// The token's own audience is kept; jti differs every time.
			tok2, c2, err := iss.Issue(t.Context(), Claims{Subject: testSubject, Audience: []string{"a", testAudience}})
			require.NoError(t, err)
			assert.Equal(t, []string{"a", testAudience}, c2.Audience)
			assert.NotEqual(t, c.ID, c2.ID)
			assert.NotEqual(t, tok, tok2)

			_, _, err = iss.Issue(t.Context(), Claims{})
			assert.ErrorIs(t, err, ErrMissingClaim)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(t, HS256)
	pub, err := NewVerifyingKey("pub", testRSAKeys()[0].Public())
	require.NoError(t, err)
	verifyOnly, err := NewKeySet(pub)
	require.NoError(t, err)
	for name, cfg := range map[string]IssuerConfig{
		"no keys":            {Issuer: testIssuer, Audience: testAudience},
		"verify-only key":    {Keys: verifyOnly, Issuer: testIssuer, Audience: testAudience},
		"no issuer":          {Keys: e.keys, Audience: testAudience},
		"no audience":        {Keys: e.keys, Issuer: testIssuer},
		"negative AccessTTL": {Keys: e.keys, Issuer: testIssuer, Audience: testAudience, AccessTTL: -time.Second},
	} {
		_, err := NewIssuer(cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, name)
	}
	for name, cfg := range map[string]VerifierConfig{
		"no keys":     {Issuer: testIssuer, Audience: testAudience},
		"no issuer":   {Keys: e.keys, Audience: testAudience},
		"no audience": {Keys: e.keys, Issuer: testIssuer},
	} {
		_, err := NewVerifier(cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, name)
	}
	// A verify-only key set is fine for a verifier.
	_, err = NewVerifier(VerifierConfig{Keys: verifyOnly, Issuer: testIssuer, Audience: testAudience})
	assert.NoError(t, err)
}

// TestVerifyDenylistError checks that a failing revocation store fails
// closed.
func TestVerifyDenylistError(t *testing.T) {
	e := newEnv(t, HS256)
	v, err := NewVerifier(VerifierConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience,
		Now: func() time.Time { return testNow }, Denylist: NewMemoryDenylist()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := v.Verify(ctx, e.token(t, stdHeader, stdClaims))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, c)
}

// TestVerifySignatureOnly checks VerifySignature: the same form and header
// checks, the key's algorithm, no claims or type.
func TestVerifySignatureOnly(t *testing.T) {
	for _, alg := range testAlgs {
		e := newEnv(t, alg)
		key, _ := e.keys.Lookup(e.kid)
		// No typ, no kid, no claims: still a valid JWS.
		tok := signRaw(t, e.raw, b64e(`{"alg":"`+string(alg)+`"}`), b64e("hello"))
		payload, err := VerifySignature(tok, key)
		require.NoError(t, err, alg)
		assert.Equal(t, "hello", string(payload))

		_, err = VerifySignature(tamper(t, tok), key)
		assertOnly(t, err, ErrSignature)
		_, err = VerifySignature(unsigned(`{"alg":"none"}`)(t, e), key)
		assertOnly(t, err, ErrMalformed)
		_, err = VerifySignature(e.token(t, `{"alg":"none"}`, stdClaims), key)
		assertOnly(t, err, ErrAlgorithm)
		_, err = VerifySignature(e.token(t, `{"alg":"$alg","crit":[]}`, stdClaims), key)
		assertOnly(t, err, ErrUnsupportedHeader)
		// A verifying key (public only) verifies as well.
		if alg != HS256 {
			pub, err := NewVerifyingKey("pub", rawKeyOf(alg).(crypto.Signer).Public())
			require.NoError(t, err)
			_, err = VerifySignature(tok, pub)
			require.NoError(t, err)
		}
	}
}

// TestRevocationOutlivesLeeway: a token revoked until its exp (as the
// OAuth revocation endpoint does) stays refused while the verifier would
// still accept it, that is up to exp + leeway, also after the denylist has
// swept its expired entries.
func TestRevocationOutlivesLeeway(t *testing.T) {
	ctx := context.Background()
	for _, cache := range []int{-1, 0} {
		t.Run(fmt.Sprintf("cache %d", cache), func(t *testing.T) {
			e := newEnv(t, HS256)
			clock := newClock(testNow)
			den := NewMemoryDenylist()
			den.now = clock.now
			iss, err := NewIssuer(IssuerConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience, Now: clock.now})
			require.NoError(t, err)
			v, err := NewVerifier(VerifierConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience, Now: clock.now, Denylist: den, CacheSize: cache})
			require.NoError(t, err)
			tok, c, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
			require.NoError(t, err)
			_, err = v.Verify(ctx, tok)
			require.NoError(t, err)
			require.NoError(t, den.RevokeToken(ctx, c.ID, c.ExpiresAt))

			// Past exp, within the leeway: the token is still acceptable
			// to the verifier, so its revocation must hold, even after
			// other revocations trigger a sweep.
			clock.set(c.ExpiresAt.Add(DefaultLeeway / 2))
			_, err = v.Verify(ctx, tok)
			assertOnly(t, err, ErrRevoked)
			for i := range 1100 {
				require.NoError(t, den.RevokeToken(ctx, "other-"+itoa(int64(i)), clock.now().Add(time.Hour)))
			}
			_, err = v.Verify(ctx, tok)
			assertOnly(t, err, ErrRevoked)
		})
	}
}
