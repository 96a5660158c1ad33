package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Shared fixtures of the package's tests. Raw key material is made once per
// test binary (RSA key generation is slow, more so under -race); Keys, key
// sets and verifiers are cheap and made fresh by each test.

// testNow is the injected clock of every verifier in the tests.
var testNow = time.Unix(1_700_000_000, 0).UTC()

const (
	testIssuer   = "https://issuer.example"
	testAudience = "api"
	// Claim values that no error message may contain.
	testSubject = "acct_subject_7f3a"
	testJTI     = "jti-distinctive-5c1e"
)

// testHMACSecret is a fixed 32-byte HS256 secret, easy to spot in output.
var testHMACSecret = []byte("HMACSECRET-do-not-print-0123456!")

// testRSAKeys are three 2048-bit RSA keys, generated once, concurrently.
var testRSAKeys = sync.OnceValue(func() [3]*rsa.PrivateKey {
	var keys [3]*rsa.PrivateKey
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	return keys
})

var testECKeys = sync.OnceValue(func() [2]*ecdsa.PrivateKey {
	var keys [2]*ecdsa.PrivateKey
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// testEdKeys are derived from fixed seeds, so they are deterministic.
var testEdKeys = [2]ed25519.PrivateKey{
	ed25519.NewKeyFromSeed([]byte("ed25519-seed-for-keygate-tests-0")),
	ed25519.NewKeyFromSeed([]byte("ed25519-seed-for-keygate-tests-1")),
}

// The key IDs of the four keys of every test key set.
const (
	kidHS = "hs-1"
	kidRS = "rs-1"
	kidES = "es-1"
	kidEd = "ed-1"
)

var testAlgs = []Algorithm{HS256, RS256, ES256, EdDSA}

func kidOf(alg Algorithm) string {
	return map[Algorithm]string{HS256: kidHS, RS256: kidRS, ES256: kidES, EdDSA: kidEd}[alg]
}

// rawSign signs a JWS signing input with raw key material, independently of
// the package: HMAC-SHA256, RSASSA-PKCS1-v1_5, ECDSA in the fixed-width
// r||s form, Ed25519.
func rawSign(t testing.TB, key any, input string) []byte {
	t.Helper()
	switch k := key.(type) {
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		return m.Sum(nil)
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
		require.NoError(t, err)
		return sig
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		require.NoError(t, err)
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(k, []byte(input))
	}
	t.Fatalf("rawSign: unsupported key %T", key)
	return nil
}

// rawKeyOf is the raw signing material of each algorithm's first test key.
func rawKeyOf(alg Algorithm) any {
	switch alg {
	case HS256:
		return testHMACSecret
	case RS256:
		return testRSAKeys()[0]
	case ES256:
		return testECKeys()[0]
	default:
		return testEdKeys[0]
	}
}

// otherRawKeyOf is a second key of the same algorithm, which the key sets
// do not hold.
func otherRawKeyOf(alg Algorithm) any {
	switch alg {
	case HS256:
		return []byte("another-32-byte-secret-for-tests")
	case RS256:
		return testRSAKeys()[1]
	case ES256:
		return testECKeys()[1]
	default:
		return testEdKeys[1]
	}
}

// testKeys returns the four keys of a test key set, each able to sign.
func testKeys(t testing.TB) map[Algorithm]*Key {
	t.Helper()
	keys := map[Algorithm]*Key{}
	hs, err := NewHMACKey(kidHS, testHMACSecret)
	require.NoError(t, err)
	keys[HS256] = hs
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		k, err := NewSigningKey(kidOf(alg), rawKeyOf(alg).(crypto.Signer))
		require.NoError(t, err)
		keys[alg] = k
	}
	return keys
}

// env is one algorithm's view of a fresh key set holding all four test
// keys (its own key current), with a verifier on the injected clock.
type env struct {
	alg  Algorithm
	kid  string
	raw  any // raw signing material of the current key
	keys *KeySet
	v    *Verifier
}

func newEnv(t testing.TB, alg Algorithm) *env {
	t.Helper()
	all := testKeys(t)
	more := []*Key{}
	for _, a := range testAlgs {
		if a != alg {
			more = append(more, all[a])
		}
	}
	ks, err := NewKeySet(all[alg], more...)
	require.NoError(t, err)
	v, err := NewVerifier(VerifierConfig{
		Keys: ks, Issuer: testIssuer, Audience: testAudience,
		Now: func() time.Time { return testNow },
	})
	require.NoError(t, err)
	return &env{alg: alg, kid: kidOf(alg), raw: rawKeyOf(alg), keys: ks, v: v}
}

// b64 encodes a segment as base64url without padding.
func b64e(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// expand fills the placeholders of header and claim templates.
func (e *env) expand(s string) string {
	return strings.NewReplacer("$alg", string(e.alg), "$kid", e.kid).Replace(s)
}

// signRaw signs the already encoded segments h and p with key.
func signRaw(t testing.TB, key any, h, p string) string {
	t.Helper()
	input := h + "." + p
	return input + "." + b64e(string(rawSign(t, key, input)))
}

// token returns header.claims signed with the env's own key; header and
// claims are JSON templates.
func (e *env) token(t testing.TB, header, claims string) string {
	t.Helper()
	return signRaw(t, e.raw, b64e(e.expand(header)), b64e(e.expand(claims)))
}

// The standard header and claims of a valid access token at testNow.
const stdHeader = `{"alg":"$alg","kid":"$kid","typ":"at+jwt"}`

var stdClaimList = [][2]string{
	{"iss", `"` + testIssuer + `"`},
	{"sub", `"` + testSubject + `"`},
	{"aud", `"` + testAudience + `"`},
	{"exp", itoa(testNow.Unix() + 600)},
	{"iat", itoa(testNow.Unix() - 60)},
	{"jti", `"` + testJTI + `"`},
	{"client_id", `"ck_1"`},
	{"scope", `"orders:read orders:write"`},
	{"kg_account", `"acct_1"`},
	{"kg_mode", `"test"`},
	{"kg_permissions", `["orders:read"]`},
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// claims returns the standard claims with overrides: pairs of a name and
// its raw JSON value; a value of "-" removes the claim, a new name is
// appended.
func claims(overrides ...string) string {
	list := append([][2]string(nil), stdClaimList...)
	for i := 0; i+1 < len(overrides); i += 2 {
		name, value := overrides[i], overrides[i+1]
		found := false
		for j := range list {
			if list[j][0] == name {
				found = true
				if value == "-" {
					list = append(list[:j], list[j+1:]...)
				} else {
					list[j][1] = value
				}
				break
			}
		}
		if !found && value != "-" {
			list = append(list, [2]string{name, value})
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + kv[0] + `":` + kv[1])
	}
	b.WriteByte('}')
	return b.String()
}

var stdClaims = claims()

// at returns testNow plus d as a NumericDate literal.
func at(d time.Duration) string { return itoa(testNow.Add(d).Unix()) }
