package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/jwt"
)

func TestMarshalPrivateRoundTrip(t *testing.T) {
	for _, alg := range []jwt.Algorithm{jwt.HS256, jwt.RS256, jwt.ES256, jwt.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			k, err := jwt.GenerateKey("kid-"+string(alg), alg)
			require.NoError(t, err)
			data, err := k.MarshalPrivate()
			require.NoError(t, err)
			back, err := jwt.ParsePrivate(data)
			require.NoError(t, err)
			assert.Equal(t, k.ID(), back.ID())
			assert.Equal(t, alg, back.Algorithm())
			assert.True(t, back.CanSign())

			// A token signed by the original verifies with the copy, and
			// the other way round: the same key.
			for _, pair := range [][2]*jwt.Key{{k, back}, {back, k}} {
				signer, verifier := keySetOf(t, pair[0]), keySetOf(t, pair[1])
				iss, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: signer, Issuer: "https://issuer.example", Audience: "api"})
				require.NoError(t, err)
				tok, _, err := iss.Issue(t.Context(), jwt.Claims{Subject: "s", ClientID: "c"})
				require.NoError(t, err)
				v, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: verifier, Issuer: "https://issuer.example", Audience: "api"})
				require.NoError(t, err)
				_, err = v.Verify(context.Background(), tok)
				require.NoError(t, err)
			}
			var raw struct{ PKCS8, Secret []byte }
			require.NoError(t, json.Unmarshal(data, &raw))
			secret := append(raw.PKCS8, raw.Secret...)
			require.NotEmpty(t, secret)
			dump := fmt.Sprintf("%v %+v %#v %s", back, back, back, mustJSON(t, back))
			assert.NotContains(t, dump, base64.StdEncoding.EncodeToString(secret[len(secret)-24:]), "the parsed key still hides its secret")
			assert.NotContains(t, dump, fmt.Sprintf("%x", secret[len(secret)-16:]))
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func keySetOf(t *testing.T, k *jwt.Key) *jwt.KeySet {
	t.Helper()
	s, err := jwt.NewKeySet(k)
	require.NoError(t, err)
	return s
}

func TestMarshalPrivateRefusals(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	verifying, err := jwt.NewVerifyingKey("pub", &priv.PublicKey)
	require.NoError(t, err)
	_, err = verifying.MarshalPrivate()
	require.ErrorIs(t, err, jwt.ErrNoPrivateKey)

	es, err := jwt.GenerateKey("es", jwt.ES256)
	require.NoError(t, err)
	good, err := es.MarshalPrivate()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(good, &m))
	with := func(k string, v any) []byte {
		c := map[string]any{}
		for kk, vv := range m {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return b
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	weak, err := jwtPKCS8(p384)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"not JSON":           {[]byte("garbage"), jwt.ErrInvalidKeyData},
		"wrong algorithm":    {with("alg", "RS256"), jwt.ErrInvalidKeyData},
		"HS256 with a PKCS8": {with("alg", "HS256"), jwt.ErrInvalidKeyData},
		"no key":             {with("pkcs8", nil), jwt.ErrInvalidKeyData},
		"bad DER":            {with("pkcs8", []byte{0x30, 0x01}), jwt.ErrInvalidKeyData},
		"both parts":         {with("secret", make([]byte, 32)), jwt.ErrInvalidKeyData},
		"empty key ID":       {with("kid", ""), jwt.ErrInvalidKeyID},
		"P-384 is refused":   {with("pkcs8", weak), jwt.ErrWeakKey},
		"short HMAC secret":  {[]byte(`{"kid":"h","alg":"HS256","secret":"c2hvcnQ="}`), jwt.ErrWeakKey},
		"unknown algorithm":  {with("alg", "none"), jwt.ErrInvalidKeyData},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jwt.ParsePrivate(tc.data)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// FuzzParsePrivate: any input gives a key or an error, never a panic, and
// a key that parses marshals back to something that parses to the same
// key ID and algorithm.
func FuzzParsePrivate(f *testing.F) {
	for _, alg := range []jwt.Algorithm{jwt.HS256, jwt.ES256, jwt.EdDSA} {
		k, err := jwt.GenerateKey("seed", alg)
		if err != nil {
			f.Fatal(err)
		}
		data, err := k.MarshalPrivate()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"kid":"x","alg":"HS256","secret":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := jwt.ParsePrivate(data)
		if err != nil {
			return
		}
		again, err := k.MarshalPrivate()
		require.NoError(t, err)
		k2, err := jwt.ParsePrivate(again)
		require.NoError(t, err)
		assert.Equal(t, k.ID(), k2.ID())
		assert.Equal(t, k.Algorithm(), k2.Algorithm())
	})
}

// jwtPKCS8 is the DER of a key the package refuses.
func jwtPKCS8(key any) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(key) }
