package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 7515 Appendix A.1: JWS using HMAC SHA-256 (see ../shared/VECTORS.md).
const (
	rfc7515A1Key   = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
	rfc7515A1Input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	rfc7515A1Sig   = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7515A1Token = rfc7515A1Input + "." + rfc7515A1Sig
)

func TestRFC7515A1(t *testing.T) {
	secret, err := base64.RawURLEncoding.DecodeString(rfc7515A1Key)
	require.NoError(t, err)
	require.Len(t, secret, 64)
	key, err := NewHMACKey("rfc7515-a1", secret)
	require.NoError(t, err)

	// The signature: recomputed, then verified at the JWS level.
	assert.Equal(t, rfc7515A1Sig, base64.RawURLEncoding.EncodeToString(rawSign(t, secret, rfc7515A1Input)))
	payload, err := VerifySignature(rfc7515A1Token, key)
	require.NoError(t, err)
	assert.Equal(t, "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}", string(payload))

	// Its claims, through the package's own decoder, against an injected
	// clock: valid just before exp, expired from exp + leeway on.
	var w wireClaims
	require.NoError(t, decodeJSONObject(payload, &w))
	c := w.claims()
	assert.Equal(t, "joe", c.Issuer)
	exp := time.Date(2011, 3, 22, 18, 43, 0, 0, time.UTC)
	assert.Equal(t, exp, c.ExpiresAt)
	assert.True(t, time.Date(2011, 3, 22, 18, 42, 0, 0, time.UTC).Before(c.ExpiresAt.Add(DefaultLeeway)))
	assert.False(t, exp.Add(DefaultLeeway).Before(c.ExpiresAt.Add(DefaultLeeway)))

	// It is no access token: typ JWT, no kid, no sub, iat or jti. A
	// verifier whose clock is in 2011 refuses it at the key lookup.
	ks, err := NewKeySet(key)
	require.NoError(t, err)
	v, err := NewVerifier(VerifierConfig{Keys: ks, Issuer: "joe", Audience: "any",
		Now: func() time.Time { return time.Date(2011, 3, 22, 18, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), rfc7515A1Token)
	assertOnly(t, err, ErrUnknownKey)

	// Tampering with any part fails.
	_, err = VerifySignature(rfc7515A1Input+"."+nonCanonical(rfc7515A1Sig), key)
	assertOnly(t, err, ErrMalformed)
	_, err = VerifySignature(tamper(t, rfc7515A1Token), key)
	assertOnly(t, err, ErrSignature)
	forged := strings.Replace(rfc7515A1Input, "eyJpc3MiOiJqb2Ui", b64e(`{"iss":"eve"`)[:16], 1)
	_, err = VerifySignature(forged+"."+rfc7515A1Sig, key)
	assertOnly(t, err, ErrSignature)
	other, err := NewHMACKey("other", append(secret[:63:63], secret[63]^1))
	require.NoError(t, err)
	_, err = VerifySignature(rfc7515A1Token, other)
	assertOnly(t, err, ErrSignature)
}

// The Wycheproof file (see testdata/wycheproof/README.md) and its hash.
const (
	wycheproofJWSFile   = "testdata/wycheproof/json_web_signature_test.json"
	wycheproofJWSSHA256 = "8e687a06fe8359f4ec51480f1a9f73c8faebd6f4c01b818b843b44eee54fd5d9"
)

type wycheproofFile struct {
	NumberOfTests int               `json:"numberOfTests"`
	TestGroups    []wycheproofGroup `json:"testGroups"`
}

type wycheproofGroup struct {
	Comment string          `json:"comment"`
	Public  json.RawMessage `json:"public"`
	Private json.RawMessage `json:"private"`
	Tests   []struct {
		TcID    int             `json:"tcId"`
		Comment string          `json:"comment"`
		JWS     json.RawMessage `json:"jws"` // a string, or an object (JSON serialization)
		Result  string          `json:"result"`
		Flags   []string        `json:"flags"`
	} `json:"tests"`
}

// wycheproofDeviations are the vectors keygate deliberately decides
// otherwise than Wycheproof, with the reason. The test asserts keygate's
// outcome for them, so this list stays exact.
var wycheproofDeviations = map[int]string{
	// Wycheproof valid, keygate refuses.
	259: "RS256 over an empty payload: keygate refuses an empty payload segment (ErrMalformed); " +
		"RFC 7515 allows one, but every token keygate verifies carries a JSON payload",
	372: "a '?' inserted into the header segment: Wycheproof calls it valid (lenient decoders skip it); " +
		"RFC 7515 §7.1 allows only base64url characters and keygate refuses anything else (ErrMalformed)",
	373: "a '?' inserted into the payload segment: as 372",
	// Wycheproof invalid, keygate accepts.
	353: "RSA key whose JWK says use=enc: keygate keys carry no JWK use or key_ops (they are built from Go keys, " +
		"never from a token or a fetched JWK), so whoever builds a Key from a JWK must check use/key_ops",
	354: "EC key with use=enc: as 353",
	355: "RSA key with key_ops [encrypt]: as 353",
	356: "EC key with key_ops [encrypt]: as 353",
	367: "invalidBase64Padding: the vector is byte-identical to the valid tcId 357 (the padding was lost upstream); " +
		"the intended padded form is checked to be refused",
	370: "invalidBase64PaddingInPayload: as 367",
}

// wycheproofKey builds a keygate key from a group's JWK, through jwx, and
// reports whether the group runs: HS256, RS256 and ES256 keys run every
// test; other RSA and EC keys (PS*, RS384, RS512, ES512) run only their
// alg-none tests, against the key pinned to RS256 or ES256.
func wycheproofKey(t *testing.T, g wycheproofGroup) (key *Key, all bool, ok bool) {
	t.Helper()
	raw := g.Public
	if raw == nil {
		raw = g.Private // the HMAC groups have only a private (oct) key
	}
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		// jwx refuses the ES521 keys of the RFC 7520 groups ("ES521" is no
		// JWA algorithm); keygate has no P-521 support either.
		require.Contains(t, string(raw), `"ES521"`, "only the ES521 keys fail to parse: %v", err)
		return nil, false, false
	}
	alg, _ := jk.Algorithm()
	algName := ""
	if alg != nil {
		algName = alg.String()
	}
	switch jk.KeyType().String() {
	case "oct":
		var secret []byte
		require.NoError(t, jwk.Export(jk, &secret))
		key, err = NewHMACKey("wycheproof", secret)
		require.NoError(t, err)
		return key, algName == "HS256", algName == "HS256"
	case "RSA":
		var pub rsa.PublicKey
		require.NoError(t, jwk.Export(jk, &pub))
		key, err = NewVerifyingKey("wycheproof", &pub)
		require.NoError(t, err)
		return key, algName == "RS256" || algName == "", true
	case "EC":
		var pub ecdsa.PublicKey
		require.NoError(t, jwk.Export(jk, &pub))
		if pub.Curve != elliptic.P256() {
			return nil, false, false
		}
		key, err = NewVerifyingKey("wycheproof", &pub)
		require.NoError(t, err)
		return key, algName == "ES256" || algName == "", true
	}
	return nil, false, false
}

func TestWycheproofJWS(t *testing.T) {
	data, err := os.ReadFile(wycheproofJWSFile)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, wycheproofJWSSHA256, hex.EncodeToString(sum[:]), "the vector file changed")
	var file wycheproofFile
	require.NoError(t, json.Unmarshal(data, &file))

	ran, total, deviations := 0, 0, map[int]bool{}
	for _, g := range file.TestGroups {
		total += len(g.Tests)
		key, all, ok := wycheproofKey(t, g)
		if !ok {
			continue
		}
		for _, tc := range g.Tests {
			if !all && !slices.Contains(tc.Flags, "AlgIsNone") {
				continue
			}
			ran++
			t.Run(fmt.Sprintf("%d %s %s", tc.TcID, g.Comment, tc.Comment), func(t *testing.T) {
				var token string
				if err := json.Unmarshal(tc.JWS, &token); err != nil {
					token = string(tc.JWS) // JSON serialization: an object
				}
				payload, err := VerifySignature(token, key)
				valid := tc.Result == "valid"
				require.Contains(t, []string{"valid", "invalid"}, tc.Result, "no acceptable vectors expected")
				if reason, ok := wycheproofDeviations[tc.TcID]; ok {
					deviations[tc.TcID] = true
					t.Logf("deviation: %s", reason)
					valid = !valid
				}
				if !valid {
					require.Error(t, err, "accepted a vector that must be refused")
					assertNoLeak(t, err, token)
					return
				}
				require.NoError(t, err)
				want, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
				require.NoError(t, err)
				assert.Equal(t, want, payload)
			})
		}
	}
	assert.Equal(t, file.NumberOfTests, total)
	assert.GreaterOrEqual(t, ran, 300, "most vectors run")
	for id := range wycheproofDeviations {
		assert.True(t, deviations[id], "deviation %d no longer matches a vector that runs", id)
	}

	// What 367 and 370 meant to test: padding is refused.
	hs, err := NewHMACKey("wycheproof", make([]byte, 32))
	require.NoError(t, err)
	const valid357 = "eyJraWQiOiJoczI1Ni1rZXkiLCJhbGciOiJIUzI1NiJ9.VGVzdA.c1LROH7eNQwUT8KMVEO52VC3WZ9e_AnDWbZ7aMmowV8"
	_, err = VerifySignature(valid357, hs)
	require.NoError(t, err)
	s := strings.Split(valid357, ".")
	for _, padded := range []string{s[0] + "." + s[1] + "==." + s[2], s[0] + "." + s[1] + "." + s[2] + "=", s[0] + "==." + s[1] + "." + s[2]} {
		_, err = VerifySignature(padded, hs)
		assertOnly(t, err, ErrMalformed)
	}
}
