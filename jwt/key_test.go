package jwt

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRSA returns an *rsa.PrivateKey whose modulus has exactly bits bits. It
// cannot sign; key constructors refuse it on size before using it.
func fakeRSA(bits int) *rsa.PrivateKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.SetBit(n, 0, 1)
	return &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}}
}

func TestWeakKeys(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)

	for name, secret := range map[string][]byte{
		"nil":      nil,
		"empty":    {},
		"31 bytes": bytes.Repeat([]byte{7}, 31),
		"16 bytes": bytes.Repeat([]byte{7}, 16),
	} {
		k, err := NewHMACKey("k", secret)
		assert.ErrorIs(t, err, ErrWeakKey, "HMAC secret %s", name)
		assert.Nil(t, k)
	}
	k, err := NewHMACKey("k", bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err, "32 bytes is the minimum")
	assert.Equal(t, HS256, k.Algorithm())
	_, err = NewHMACKey("k", bytes.Repeat([]byte{7}, 1024))
	require.NoError(t, err)

	for name, priv := range map[string]crypto.Signer{
		"RSA 1024":  rsa1024,
		"RSA 2047":  fakeRSA(2047),
		"RSA 512":   fakeRSA(512),
		"P-384":     p384,
		"P-224":     p224,
		"short Ed":  badEd{},
		"X25519":    ecdhSigner{x25519.Public()},
		"not a key": ecdhSigner{"key"},
	} {
		k, err := NewSigningKey("k", priv)
		assert.ErrorIs(t, err, ErrWeakKey, "signing key %s", name)
		assert.Nil(t, k)
		k, err = NewVerifyingKey("k", priv.Public())
		assert.ErrorIs(t, err, ErrWeakKey, "verifying key %s", name)
		assert.Nil(t, k)
	}
	for name, pub := range map[string]crypto.PublicKey{
		"nil":                  nil,
		"HMAC bytes as public": []byte("0123456789abcdef0123456789abcdef"),
		"RSA public by value":  testRSAKeys()[0].PublicKey,
		"ECDSA P-256 ECDH key": mustECDH(t),
	} {
		_, err := NewVerifyingKey("k", pub)
		assert.ErrorIs(t, err, ErrWeakKey, name)
	}

	// 2048 bits is the minimum.
	k, err = NewVerifyingKey("k", &fakeRSA(2048).PublicKey)
	require.NoError(t, err)
	assert.Equal(t, RS256, k.Algorithm())
	assert.False(t, k.CanSign())

	for _, alg := range []Algorithm{"PS256", "RS384", "ES384", "none", "", "hs256"} {
		_, err := GenerateKey("k", alg)
		assert.ErrorIs(t, err, ErrWeakKey, "GenerateKey(%q)", alg)
	}
	for _, alg := range []Algorithm{HS256, ES256, EdDSA} { // RS256: see TestGenerateKeyRSA
		k, err := GenerateKey("gen", alg)
		require.NoError(t, err)
		assert.Equal(t, alg, k.Algorithm())
		assert.True(t, k.CanSign())
		assert.Equal(t, "gen", k.ID())
	}
}

func TestGenerateKeyRSA(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA key generation is slow")
	}
	k, err := GenerateKey("gen", RS256)
	require.NoError(t, err)
	assert.Equal(t, RS256, k.Algorithm())
	assert.GreaterOrEqual(t, k.public.(*rsa.PublicKey).N.BitLen(), MinRSABits)
}

func mustECDH(t testing.TB) *ecdh.PublicKey {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k.PublicKey()
}

// badEd is an Ed25519 signer with a truncated public key.
type badEd struct{}

func (badEd) Public() crypto.PublicKey { return ed25519.PublicKey(make([]byte, 31)) }
func (badEd) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, nil
}

// ecdhSigner is a crypto.Signer with an unsupported public key.
type ecdhSigner struct{ pub crypto.PublicKey }

func (s ecdhSigner) Public() crypto.PublicKey { return s.pub }
func (ecdhSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, nil
}

func TestKeyIDs(t *testing.T) {
	bad := []string{
		"", strings.Repeat("k", 129), "a b", "a\tb", "a\nb", `a"b`, `a\b`, "é", "kid\x00", "\x7f", "k\u2028",
	}
	for _, id := range bad {
		_, err := NewHMACKey(id, testHMACSecret)
		assert.ErrorIs(t, err, ErrInvalidKeyID, "NewHMACKey(%q)", id)
		_, err = NewSigningKey(id, testEdKeys[0])
		assert.ErrorIs(t, err, ErrInvalidKeyID, "NewSigningKey(%q)", id)
		_, err = NewVerifyingKey(id, testEdKeys[0].Public())
		assert.ErrorIs(t, err, ErrInvalidKeyID, "NewVerifyingKey(%q)", id)
		_, err = GenerateKey(id, EdDSA)
		assert.ErrorIs(t, err, ErrInvalidKeyID, "GenerateKey(%q)", id)
	}
	for _, id := range []string{"k", strings.Repeat("k", 128), "2024-06-01:rs256", "bilbo.baggins@hobbiton.example", "a/b+c=d", "~!#$%&'()*,-./:;<=>?@[]^_`{|}"} {
		k, err := NewHMACKey(id, testHMACSecret)
		require.NoError(t, err, "NewHMACKey(%q)", id)
		assert.Equal(t, id, k.ID())
	}
	// Key ID checks run before the key size check, and neither error
	// contains the secret.
	_, err := NewHMACKey("", []byte("short"))
	assert.ErrorIs(t, err, ErrInvalidKeyID)
	_, err = NewHMACKey("k", []byte("short-secret-31-bytes-xxxxxxxxx"))
	assert.ErrorIs(t, err, ErrWeakKey)
	assert.NotContains(t, err.Error(), "short-secret")
}

// TestHMACKeyCopiesSecret: changing the caller's slice afterwards changes
// nothing.
func TestHMACKeyCopiesSecret(t *testing.T) {
	secret := append([]byte(nil), testHMACSecret...)
	k, err := NewHMACKey(kidHS, secret)
	require.NoError(t, err)
	ks, err := NewKeySet(k)
	require.NoError(t, err)
	v, err := NewVerifier(VerifierConfig{Keys: ks, Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	for i := range secret {
		secret[i] = 0
	}
	e := &env{alg: HS256, kid: kidHS, raw: testHMACSecret}
	_, err = v.Verify(context.Background(), e.token(t, stdHeader, stdClaims))
	require.NoError(t, err)
}

// holder is a struct that holds keys, as an application's config might.
type holder struct {
	Name string
	Key  *Key
	Keys []*Key
	ByID map[string]*Key
}

// privateHolder holds a key in an unexported field: fmt cannot call its
// Format method there and prints the value by reflection.
type privateHolder struct {
	name string
	key  *Key
}

// TestKeyRedaction: fmt, log/slog and encoding/json never show the secret
// of an HMAC key or the private exponent of an RSA key.
func TestKeyRedaction(t *testing.T) {
	hs, err := NewHMACKey("hs-redact", testHMACSecret)
	require.NoError(t, err)
	rsaPriv := testRSAKeys()[0]
	rs, err := NewSigningKey("rs-redact", rsaPriv)
	require.NoError(t, err)
	ecPriv := testECKeys()[0]
	es, err := NewSigningKey("es-redact", ecPriv)
	require.NoError(t, err)
	ed, err := NewSigningKey("ed-redact", testEdKeys[0])
	require.NoError(t, err)

	forbidden := map[string]string{
		"HMAC secret":         string(testHMACSecret),
		"HMAC secret hex":     hex.EncodeToString(testHMACSecret),
		"HMAC secret HEX":     strings.ToUpper(hex.EncodeToString(testHMACSecret)),
		"HMAC secret base64":  base64.StdEncoding.EncodeToString(testHMACSecret),
		"HMAC secret b64url":  base64.RawURLEncoding.EncodeToString(testHMACSecret),
		"HMAC secret decimal": strings.Trim(fmt.Sprint([]byte(testHMACSecret[:8])), "[]"),
		"RSA d":               rsaPriv.D.String(),
		"RSA d hex":           rsaPriv.D.Text(16),
		"RSA p":               rsaPriv.Primes[0].String(),
		"RSA d b64url":        base64.RawURLEncoding.EncodeToString(rsaPriv.D.Bytes()),
		"EC d":                ecPriv.D.String(),
		"EC d hex":            ecPriv.D.Text(16),
		"Ed25519 seed hex":    hex.EncodeToString(testEdKeys[0].Seed()),
		"Ed25519 seed":        strings.Trim(fmt.Sprint([]byte(testEdKeys[0].Seed()[:8])), "[]"),
	}
	check := func(what, out string) {
		t.Helper()
		for name, s := range forbidden {
			assert.NotContains(t, out, s, "%s shows the %s", what, name)
		}
	}

	for _, k := range []*Key{hs, rs, es, ed} {
		h := holder{Name: "cfg", Key: k, Keys: []*Key{k}, ByID: map[string]*Key{k.ID(): k}}
		ph := privateHolder{name: "cfg", key: k}
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10.3v"} {
			check("fmt "+verb+" of *Key", fmt.Sprintf(verb, k))
			check("fmt "+verb+" of a struct", fmt.Sprintf(verb, h))
			check("fmt "+verb+" of a *struct", fmt.Sprintf(verb, &h))
			check("fmt "+verb+" of []*Key", fmt.Sprintf(verb, []*Key{k}))
			check("fmt "+verb+" of a struct with an unexported *Key field", fmt.Sprintf(verb, ph))
			check("fmt "+verb+" of a *struct with an unexported *Key field", fmt.Sprintf(verb, &ph))
		}
		assert.Equal(t, "jwt.Key(kid="+k.ID()+", alg="+string(k.Algorithm())+")", fmt.Sprint(k))
		check("String", k.String())
		check("Sprint", fmt.Sprint(k, h, ph))
		check("Sprintln", fmt.Sprintln(k, &h, &ph))

		var buf bytes.Buffer
		for _, hd := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			log := slog.New(hd)
			log.Info("key", "key", k, "holder", h, "ptr", &h, "private", ph, slog.Any("any", k), slog.Group("g", "key", k))
			log.Info("key", "keys", []*Key{k})
		}
		check("slog", buf.String())
		assert.Contains(t, buf.String(), k.ID())

		j, err := json.Marshal(h)
		require.NoError(t, err)
		check("encoding/json", string(j))
		j, err = json.Marshal(k)
		require.NoError(t, err)
		check("encoding/json of *Key", string(j))
	}
}
