package jwt

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"github.com/keygate/keygate"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fetchJWKS gets the key set's document through HTTP, as a relying party
// would, and parses it with jwx.
func fetchJWKS(t *testing.T, ks *KeySet) jwk.Set {
	t.Helper()
	srv := httptest.NewServer(ks)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	set, err := jwk.Parse(body)
	require.NoError(t, err)
	return set
}

// rawKeysByID exports the public keys of a JWKS to Go keys, by kid.
func rawKeysByID(t *testing.T, set jwk.Set) map[string]crypto.PublicKey {
	t.Helper()
	keys := map[string]crypto.PublicKey{}
	for i := range set.Len() {
		k, ok := set.Key(i)
		require.True(t, ok)
		kid, ok := k.KeyID()
		require.True(t, ok, "every published key has a kid")
		var raw any
		require.NoError(t, jwk.Export(k, &raw))
		keys[kid] = raw
	}
	return keys
}

// kidKeyfunc is a golang-jwt Keyfunc that requires a kid and finds the key
// by it.
func kidKeyfunc(keys map[string]crypto.PublicKey) gjwt.Keyfunc {
	return func(tok *gjwt.Token) (any, error) {
		kid, ok := tok.Header["kid"].(string)
		if !ok {
			return nil, fmt.Errorf("no kid")
		}
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return k, nil
	}
}

// TestInteropGolangJWT: tokens keygate issues verify with golang-jwt v5,
// keys taken from the served JWKS, iss, aud and exp checked by golang-jwt.
func TestInteropGolangJWT(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, alg)
			keys := rawKeysByID(t, fetchJWKS(t, e.keys))
			if alg == HS256 {
				_, published := keys[kidHS]
				require.False(t, published, "the HMAC key is not in the JWKS")
				keys[kidHS] = testHMACSecret // the shared secret, given out of band
			}
			clock := newClock(testNow)
			iss, err := NewIssuer(IssuerConfig{Keys: e.keys, Issuer: testIssuer, Audience: testAudience, Now: clock.now})
			require.NoError(t, err)
			tok, issued, err := iss.Issue(t.Context(), Claims{Subject: testSubject, Scope: "orders:read", Grant: keygate.Grant{Account: "acct_1", Permissions: []string{"p1"}}})
			require.NoError(t, err)

			parse := func(tok string, opts ...gjwt.ParserOption) (*gjwt.Token, error) {
				return gjwt.Parse(tok, kidKeyfunc(keys), append([]gjwt.ParserOption{
					gjwt.WithValidMethods([]string{string(alg)}),
					gjwt.WithIssuer(testIssuer),
					gjwt.WithAudience(testAudience),
					gjwt.WithExpirationRequired(),
					gjwt.WithIssuedAt(),
					gjwt.WithStrictDecoding(),
					gjwt.WithTimeFunc(clock.now),
				}, opts...)...)
			}
			parsed, err := parse(tok)
			require.NoError(t, err)
			require.True(t, parsed.Valid)
			assert.Equal(t, "at+jwt", parsed.Header["typ"])
			mc := parsed.Claims.(gjwt.MapClaims)
			assert.Equal(t, testSubject, mc["sub"])
			assert.Equal(t, issued.ID, mc["jti"])
			assert.Equal(t, "orders:read", mc["scope"])
			assert.Equal(t, "acct_1", mc["kg_account"])
			exp, err := mc.GetExpirationTime()
			require.NoError(t, err)
			assert.True(t, exp.Time.Equal(issued.ExpiresAt))

			// golang-jwt's own validators refuse what they must.
			_, err = parse(tok, gjwt.WithAudience("other"))
			assert.ErrorIs(t, err, gjwt.ErrTokenInvalidAudience)
			_, err = parse(tok, gjwt.WithIssuer("https://other.example"))
			assert.ErrorIs(t, err, gjwt.ErrTokenInvalidIssuer)
			clock.set(issued.ExpiresAt.Add(time.Second))
			_, err = parse(tok)
			assert.ErrorIs(t, err, gjwt.ErrTokenExpired)
			clock.set(testNow)
			_, err = parse(tamper(t, tok))
			assert.ErrorIs(t, err, gjwt.ErrTokenSignatureInvalid)
			// The kid lookup is required: a token naming an unpublished key fails.
			noKid := signRaw(t, e.raw, b64e(`{"alg":"`+string(alg)+`","typ":"at+jwt","kid":"nobody"}`), strings.Split(tok, ".")[1])
			_, err = parse(noKid)
			assert.ErrorIs(t, err, gjwt.ErrTokenUnverifiable)
		})
	}
}

// TestInteropJWX: tokens keygate issues verify with jwx's jws.Verify
// against the served JWKS (jwx requires kid and alg to match the JWK).
func TestInteropJWX(t *testing.T) {
	for _, alg := range []Algorithm{RS256, ES256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, alg)
			set := fetchJWKS(t, e.keys)
			iss, _ := issuerFor(t, e.keys, 0)
			tok, _, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
			require.NoError(t, err)
			payload, err := jws.Verify([]byte(tok), jws.WithKeySet(set))
			require.NoError(t, err)
			want, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
			require.NoError(t, err)
			assert.Equal(t, want, payload)

			_, err = jws.Verify([]byte(tamper(t, tok)), jws.WithKeySet(set))
			assert.Error(t, err)
		})
	}
	// HS256 with the shared secret.
	e := newEnv(t, HS256)
	iss, _ := issuerFor(t, e.keys, 0)
	tok, _, err := iss.Issue(t.Context(), Claims{Subject: testSubject})
	require.NoError(t, err)
	_, err = jws.Verify([]byte(tok), jws.WithKey(jwa.HS256(), testHMACSecret))
	require.NoError(t, err)
}

// TestInteropIntoKeygate: tokens signed by golang-jwt and by jwx, as
// another issuer sharing the keys would, verify with keygate; golang-jwt's
// default typ "JWT" is refused as no access token.
func TestInteropIntoKeygate(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(string(alg), func(t *testing.T) {
			e := newEnv(t, alg)
			mc := gjwt.MapClaims{
				"iss": testIssuer, "sub": testSubject, "aud": []string{"x", testAudience},
				"exp": testNow.Add(time.Minute).Unix(), "iat": testNow.Unix(), "jti": testJTI,
			}
			gt := gjwt.NewWithClaims(gjwt.GetSigningMethod(string(alg)), mc)
			gt.Header["kid"] = e.kid
			jwtTyped, err := gt.SignedString(e.raw)
			require.NoError(t, err)
			_, err = e.v.Verify(context.Background(), jwtTyped)
			assertOnly(t, err, ErrType)

			gt.Header["typ"] = "at+jwt"
			tok, err := gt.SignedString(e.raw)
			require.NoError(t, err)
			c, err := e.v.Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, testSubject, c.Subject)
			assert.Equal(t, []string{"x", testAudience}, c.Audience)

			// jwx, signing with the raw key.
			hdr := jws.NewHeaders()
			require.NoError(t, hdr.Set(jws.KeyIDKey, e.kid))
			require.NoError(t, hdr.Set(jws.TypeKey, "at+jwt"))
			jalg, ok := jwa.LookupSignatureAlgorithm(string(alg))
			require.True(t, ok)
			out, err := jws.Sign([]byte(stdClaims), jws.WithKey(jalg, e.raw, jws.WithProtectedHeaders(hdr)))
			require.NoError(t, err)
			_, err = e.v.Verify(context.Background(), string(out))
			require.NoError(t, err)
		})
	}
}
