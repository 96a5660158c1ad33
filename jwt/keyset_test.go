package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issuerFor returns an issuer and a verifier sharing ks, on the test clock.
func issuerFor(t testing.TB, ks *KeySet, cache int) (*Issuer, *Verifier) {
	t.Helper()
	now := func() time.Time { return testNow }
	iss, err := NewIssuer(IssuerConfig{Keys: ks, Issuer: testIssuer, Audience: testAudience, Now: now})
	require.NoError(t, err)
	v, err := NewVerifier(VerifierConfig{Keys: ks, Issuer: testIssuer, Audience: testAudience, Now: now, CacheSize: cache})
	require.NoError(t, err)
	return iss, v
}

func kidOfToken(t testing.TB, tok string) string {
	t.Helper()
	p, err := parse(tok)
	require.NoError(t, err)
	return p.header.Kid
}

// TestKeySetRotation: a new key signs at once, the old one keeps verifying
// until it is retired; with and without the verified-token cache.
func TestKeySetRotation(t *testing.T) {
	for _, cache := range []int{0, -1} {
		for _, pair := range [][2]Algorithm{{HS256, HS256}, {RS256, RS256}, {HS256, RS256}, {RS256, ES256}, {ES256, EdDSA}} {
			t.Run(string(pair[0])+"→"+string(pair[1])+map[int]string{0: "", -1: "/no cache"}[cache], func(t *testing.T) {
				ctx := context.Background()
				oldKey, err := newKeyFrom("old", pair[0], rawKeyOf(pair[0]))
				require.NoError(t, err)
				newKey, err := newKeyFrom("new", pair[1], otherRawKeyOf(pair[1]))
				require.NoError(t, err)
				ks, err := NewKeySet(oldKey)
				require.NoError(t, err)
				iss, v := issuerFor(t, ks, cache)

				oldTok, _, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
				require.NoError(t, err)
				assert.Equal(t, "old", kidOfToken(t, oldTok))
				_, err = v.Verify(ctx, oldTok)
				require.NoError(t, err)

				require.NoError(t, ks.Rotate(newKey))
				assert.Same(t, newKey, ks.Current())
				newTok, _, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
				require.NoError(t, err)
				assert.Equal(t, "new", kidOfToken(t, newTok), "the new key signs at once")
				for _, tok := range []string{oldTok, newTok} {
					_, err = v.Verify(ctx, tok)
					require.NoError(t, err, "both keys verify after Rotate")
				}

				require.NoError(t, ks.Retire("old"))
				_, ok := ks.Lookup("old")
				assert.False(t, ok)
				c, err := v.Verify(ctx, oldTok)
				assertOnly(t, err, ErrUnknownKey)
				assert.Zero(t, c)
				_, err = v.Verify(ctx, newTok)
				require.NoError(t, err)

				// Misuse.
				assert.ErrorIs(t, ks.Retire("new"), ErrInvalidConfig, "the current key cannot be retired")
				assert.ErrorIs(t, ks.Retire("old"), ErrUnknownKey, "already retired")
				assert.ErrorIs(t, ks.Rotate(newKey), ErrInvalidKeyID, "duplicate key ID")
				assert.ErrorIs(t, ks.Rotate(nil), ErrInvalidConfig)
				pub, err := NewVerifyingKey("pub", testRSAKeys()[2].Public())
				require.NoError(t, err)
				assert.ErrorIs(t, ks.Rotate(pub), ErrInvalidConfig, "a verifying key cannot become current")
				assert.Same(t, newKey, ks.Current(), "failed rotations change nothing")
			})
		}
	}
}

// newKeyFrom builds a signing key of alg from raw material.
func newKeyFrom(kid string, alg Algorithm, raw any) (*Key, error) {
	if alg == HS256 {
		return NewHMACKey(kid, raw.([]byte))
	}
	switch k := raw.(type) {
	case *rsa.PrivateKey:
		return NewSigningKey(kid, k)
	case *ecdsa.PrivateKey:
		return NewSigningKey(kid, k)
	default:
		return NewSigningKey(kid, k.(ed25519.PrivateKey))
	}
}

// TestCacheKeyIDReuse: a token verified (and cached) under one key must not
// pass once that key is retired and another key takes over its key ID.
func TestCacheKeyIDReuse(t *testing.T) {
	ctx := context.Background()
	for _, cache := range []int{-1, 0} {
		t.Run(map[int]string{0: "cache", -1: "no cache"}[cache], func(t *testing.T) {
			current, err := NewHMACKey("current", []byte("current-32-byte-secret-for-tests"))
			require.NoError(t, err)
			ks, err := NewKeySet(current)
			require.NoError(t, err)
			_, v := issuerFor(t, ks, cache)

			first, err := NewHMACKey("k", testHMACSecret)
			require.NoError(t, err)
			tok := signRaw(t, testHMACSecret, b64e(`{"alg":"HS256","kid":"k","typ":"at+jwt"}`), b64e(stdClaims))
			require.NoError(t, ks.Rotate(first))
			require.NoError(t, ks.Rotate(mustHMAC(t, "current2", "current2-32-byte-secret-for-test")))
			_, err = v.Verify(ctx, tok)
			require.NoError(t, err)

			// Key "k" is compromised: retire it and reuse its ID for a new secret.
			require.NoError(t, ks.Retire("k"))
			_, err = v.Verify(ctx, tok)
			assertOnly(t, err, ErrUnknownKey)
			require.NoError(t, ks.Rotate(mustHMAC(t, "k", "replacement-32-byte-secret-tests")))
			c, err := v.Verify(ctx, tok)
			assertOnly(t, err, ErrSignature) // what a fresh verification says
			assert.Zero(t, c)
		})
	}
}

func mustHMAC(t testing.TB, kid, secret string) *Key {
	t.Helper()
	k, err := NewHMACKey(kid, []byte(secret))
	require.NoError(t, err)
	return k
}

// TestCacheRevocation: revocation takes effect at once on a cached token,
// and an error never comes with claims.
func TestCacheRevocation(t *testing.T) {
	ctx := context.Background()
	for _, cache := range []int{-1, 0} {
		t.Run(map[int]string{0: "cache", -1: "no cache"}[cache], func(t *testing.T) {
			e := newEnv(t, HS256)
			iss, v := issuerFor(t, e.keys, cache)
			tok, issued, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
			require.NoError(t, err)
			tok2, _, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
			require.NoError(t, err)
			for _, tk := range []string{tok, tok, tok2} {
				_, err = v.Verify(ctx, tk)
				require.NoError(t, err)
			}
			require.NoError(t, v.Denylist().RevokeToken(ctx, issued.ID, issued.ExpiresAt))
			c, err := v.Verify(ctx, tok)
			assertOnly(t, err, ErrRevoked)
			assert.Zero(t, c, "claims returned with ErrRevoked")
			_, err = v.Verify(ctx, tok2)
			require.NoError(t, err, "only that jti is revoked")

			require.NoError(t, v.Denylist().RevokeSubject(ctx, testSubject, testNow.Add(time.Second)))
			c, err = v.Verify(ctx, tok2)
			assertOnly(t, err, ErrRevoked)
			assert.Zero(t, c, "claims returned with ErrRevoked")
		})
	}
}

// TestCacheConcurrent verifies the same and different tokens from many
// goroutines while keys rotate (for the race detector).
func TestCacheConcurrent(t *testing.T) {
	e := newEnv(t, HS256)
	iss, v := issuerFor(t, e.keys, 64)
	var toks []string
	for range 16 {
		tok, _, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(g+i)%len(toks)]
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Errorf("verify: %v", err)
					return
				}
				if _, err := v.Verify(context.Background(), tamper(t, tok)); !errors.Is(err, ErrSignature) {
					t.Errorf("tampered token: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			k := mustHMAC(t, "rot-"+itoa(int64(i)), "rotation-32-byte-secret-for-test")
			if err := e.keys.Rotate(k); err != nil {
				t.Errorf("rotate: %v", err)
			}
			_ = e.keys.JWKS()
		}
	})
	wg.Wait()
}

func TestNewKeySet(t *testing.T) {
	a := mustHMAC(t, "a", string(testHMACSecret))
	_, err := NewKeySet(a, mustHMAC(t, "a", string(testHMACSecret)))
	assert.ErrorIs(t, err, ErrInvalidKeyID, "duplicate key ID")
	_, err = NewKeySet(nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewKeySet(a, nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	ks, err := NewKeySet(a)
	require.NoError(t, err)
	k, ok := ks.Lookup("a")
	assert.True(t, ok)
	assert.Same(t, a, k)
	_, ok = ks.Lookup("")
	assert.False(t, ok)
}

// jwksDoc is the generic form of a JWKS document.
type jwksDoc struct {
	Keys []map[string]any `json:"keys"`
}

// TestJWKS: public keys only, never an HMAC secret, with kid, alg and use;
// the current key first.
func TestJWKS(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run("current "+string(alg), func(t *testing.T) {
			e := newEnv(t, alg)
			raw := e.keys.JWKS()
			assert.NotContains(t, string(raw), base64.RawURLEncoding.EncodeToString(testHMACSecret))
			assert.NotContains(t, string(raw), base64.StdEncoding.EncodeToString(testHMACSecret))
			assert.NotContains(t, string(raw), string(testHMACSecret))
			var doc jwksDoc
			require.NoError(t, json.Unmarshal(raw, &doc))
			require.Len(t, doc.Keys, 3, "every asymmetric key, never the HS256 one")
			if alg != HS256 {
				assert.Equal(t, e.kid, doc.Keys[0]["kid"], "the current key comes first")
			}
			seen := map[string]bool{}
			for _, k := range doc.Keys {
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
					assert.NotContains(t, k, private, "JWK of %v has private member %q", k["kid"], private)
				}
				assert.NotEqual(t, "oct", k["kty"])
				assert.Equal(t, "sig", k["use"])
				kid, _ := k["kid"].(string)
				seen[kid] = true
				want := map[string]string{kidRS: "RS256", kidES: "ES256", kidEd: "EdDSA"}[kid]
				require.NotEmpty(t, want, "unexpected kid %q", kid)
				assert.Equal(t, want, k["alg"])
				switch kid {
				case kidRS:
					assert.Equal(t, "RSA", k["kty"])
					pub := testRSAKeys()[0].PublicKey
					assert.Equal(t, base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), k["n"])
					assert.Equal(t, base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()), k["e"])
				case kidES:
					assert.Equal(t, "EC", k["kty"])
					assert.Equal(t, "P-256", k["crv"])
					pub := testECKeys()[0].PublicKey
					b, err := pub.Bytes()
					require.NoError(t, err)
					assert.Equal(t, base64.RawURLEncoding.EncodeToString(b[1:33]), k["x"])
					assert.Equal(t, base64.RawURLEncoding.EncodeToString(b[33:]), k["y"])
				case kidEd:
					assert.Equal(t, "OKP", k["kty"])
					assert.Equal(t, "Ed25519", k["crv"])
					assert.Equal(t, base64.RawURLEncoding.EncodeToString(testEdKeys[0].Public().(ed25519.PublicKey)), k["x"])
				}
			}
			assert.Len(t, seen, 3)
		})
	}

	t.Run("HMAC only", func(t *testing.T) {
		ks, err := NewKeySet(mustHMAC(t, "h", string(testHMACSecret)))
		require.NoError(t, err)
		var doc map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(ks.JWKS(), &doc))
		require.Contains(t, doc, "keys", "RFC 7517 §5: a JWK Set has a keys member")
		var keys []any
		require.NoError(t, json.Unmarshal(doc["keys"], &keys))
		assert.Empty(t, keys)
		assert.NotContains(t, string(ks.JWKS()), base64.RawURLEncoding.EncodeToString(testHMACSecret))
	})

	t.Run("follows rotation", func(t *testing.T) {
		e := newEnv(t, RS256)
		k, err := NewSigningKey("rs-2", testRSAKeys()[2])
		require.NoError(t, err)
		require.NoError(t, e.keys.Rotate(k))
		var doc jwksDoc
		require.NoError(t, json.Unmarshal(e.keys.JWKS(), &doc))
		require.Len(t, doc.Keys, 4)
		assert.Equal(t, "rs-2", doc.Keys[0]["kid"])
		require.NoError(t, e.keys.Retire(kidRS))
		require.NoError(t, json.Unmarshal(e.keys.JWKS(), &doc))
		var kids []any
		for _, k := range doc.Keys {
			kids = append(kids, k["kid"])
		}
		assert.Equal(t, []any{"rs-2", kidEd, kidES}, kids, "current first, then by key ID")
	})

	t.Run("JWKS returns a copy", func(t *testing.T) {
		e := newEnv(t, RS256)
		a := e.keys.JWKS()
		want := string(a)
		for i := range a {
			a[i] = 'x'
		}
		assert.Equal(t, want, string(e.keys.JWKS()))
	})
}

func TestJWKSHandler(t *testing.T) {
	e := newEnv(t, ES256)
	srv := httptest.NewServer(e.keys)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/jwk-set+json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, string(e.keys.JWKS()), string(body))
	assert.NotContains(t, string(body), `"d"`)
	assert.NotContains(t, string(body), `"k"`)
	assert.NotContains(t, string(body), kidHS)

	head, err := http.Head(srv.URL)
	require.NoError(t, err)
	head.Body.Close()
	assert.Equal(t, http.StatusOK, head.StatusCode)

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		req, err := http.NewRequest(method, srv.URL+"/.well-known/jwks.json", strings.NewReader(`{"keys":[]}`))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, method)
		assert.Contains(t, resp.Header.Get("Allow"), "GET", method)
		assert.NotContains(t, string(b), `"kty"`, "no keys in a %s response", method)
	}
	// The document did not change.
	assert.Equal(t, string(body), string(e.keys.JWKS()))
}
