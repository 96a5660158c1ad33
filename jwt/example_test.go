package jwt_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/keygate/keygate"
	"net/http/httptest"
	"time"

	"github.com/keygate/keygate/jwt"
)

// Issue an access token and verify it. The clocks are fixed here so that
// the output is stable; leave IssuerConfig.Now and VerifierConfig.Now nil
// in real code.
func Example_issueAndVerify() {
	key, err := jwt.NewHMACKey("2026-01", []byte("a 32-byte secret from your vault"))
	if err != nil {
		panic(err)
	}
	keys, err := jwt.NewKeySet(key)
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	issuer, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: keys, Issuer: "https://auth.example", Audience: "orders-api", Now: clock})
	if err != nil {
		panic(err)
	}
	token, _, err := issuer.Issue(context.Background(), jwt.Claims{Subject: "acct_42", Scope: "orders:read", Grant: keygate.Grant{Account: "acct_42", Mode: "test"}})
	if err != nil {
		panic(err)
	}

	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: keys, Issuer: "https://auth.example", Audience: "orders-api", Now: clock})
	if err != nil {
		panic(err)
	}
	claims, err := verifier.Verify(context.Background(), token)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.Subject, claims.Scope, claims.Audience, claims.ExpiresAt.Format(time.RFC3339))

	// 15 minutes and the 30-second leeway later, the token has expired.
	now = now.Add(jwt.DefaultAccessTTL + jwt.DefaultLeeway)
	_, err = verifier.Verify(context.Background(), token)
	fmt.Println(errors.Is(err, jwt.ErrExpired), err)
	// Output:
	// acct_42 orders:read [orders-api] 2026-03-01T12:15:00Z
	// true jwt: token expired
}

// Verification errors are sentinels: map them to a 401 and log which one.
func ExampleVerifier_Verify_errors() {
	key, _ := jwt.NewHMACKey("k1", []byte("a 32-byte secret from your vault"))
	keys, _ := jwt.NewKeySet(key)
	verifier, _ := jwt.NewVerifier(jwt.VerifierConfig{Keys: keys, Issuer: "https://auth.example", Audience: "orders-api"})

	enc := base64.RawURLEncoding.EncodeToString
	for _, token := range []string{
		"not a token",
		enc([]byte(`{"alg":"none","kid":"k1"}`)) + "." + enc([]byte(`{"sub":"admin"}`)) + ".",
		enc([]byte(`{"alg":"HS256","kid":"k1","jku":"https://evil.example/jwks"}`)) + ".e30.c2ln",
		enc([]byte(`{"alg":"HS256","kid":"k0"}`)) + ".e30.c2ln",
		enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + ".e30.c2ln",
		enc([]byte(`{"alg":"HS256","kid":"k1"}`)) + ".e30.c2ln",
	} {
		_, err := verifier.Verify(context.Background(), token)
		switch {
		case errors.Is(err, jwt.ErrMalformed), errors.Is(err, jwt.ErrUnsupportedHeader):
			fmt.Println("bad request:", err)
		case errors.Is(err, jwt.ErrUnknownKey), errors.Is(err, jwt.ErrAlgorithm), errors.Is(err, jwt.ErrSignature):
			fmt.Println("forged or foreign:", err)
		default:
			fmt.Println("other:", err)
		}
	}
	// Output:
	// bad request: jwt: malformed token: not canonical unpadded base64url
	// bad request: jwt: malformed token: not three non-empty segments
	// bad request: jwt: unsupported header parameter: embedded or remote key (jwk, jku, x5u, x5c)
	// forged or foreign: jwt: unknown key ID
	// forged or foreign: jwt: algorithm does not match the key
	// forged or foreign: jwt: invalid signature
}

// Rotate keys: the new key signs at once, the old one keeps verifying the
// tokens it signed until it is retired.
func ExampleKeySet_Rotate() {
	old, _ := jwt.NewHMACKey("2026-01", []byte("the January secret, 32 bytes...."))
	keys, _ := jwt.NewKeySet(old)
	issuer, _ := jwt.NewIssuer(jwt.IssuerConfig{Keys: keys, Issuer: "https://auth.example", Audience: "api"})
	verifier, _ := jwt.NewVerifier(jwt.VerifierConfig{Keys: keys, Issuer: "https://auth.example", Audience: "api"})
	ctx := context.Background()

	before, _, _ := issuer.Issue(context.Background(), jwt.Claims{Subject: "acct_42"})

	next, _ := jwt.NewHMACKey("2026-02", []byte("the February secret, 32 bytes..."))
	if err := keys.Rotate(next); err != nil {
		panic(err)
	}
	after, _, _ := issuer.Issue(context.Background(), jwt.Claims{Subject: "acct_42"})
	_, errBefore := verifier.Verify(ctx, before)
	_, errAfter := verifier.Verify(ctx, after)
	fmt.Println("signing with", keys.Current().ID(), "| old token:", errBefore, "| new token:", errAfter)

	if err := keys.Retire("2026-01"); err != nil {
		panic(err)
	}
	_, errBefore = verifier.Verify(ctx, before)
	fmt.Println("after retiring 2026-01, old token:", errBefore)
	// Output:
	// signing with 2026-02 | old token: <nil> | new token: <nil>
	// after retiring 2026-01, old token: jwt: unknown key ID
}

// Serve the public keys at /.well-known/jwks.json. HMAC keys are never
// published.
func ExampleKeySet_ServeHTTP() {
	priv := ed25519.NewKeyFromSeed([]byte("an example seed of 32 bytes....."))
	signing, _ := jwt.NewSigningKey("ed-2026", priv)
	hmacKey, _ := jwt.NewHMACKey("hs-2026", []byte("a 32-byte secret from your vault"))
	keys, _ := jwt.NewKeySet(signing, hmacKey)

	// mux.Handle("GET /.well-known/jwks.json", keys)
	rec := httptest.NewRecorder()
	keys.ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// 200 application/jwk-set+json
	// {"keys":[{"alg":"EdDSA","crv":"Ed25519","kid":"ed-2026","kty":"OKP","use":"sig","x":"VkiBs-qkkQesTS2VwzUsoRLwjUi0iDAIYtx3WLEY_nU"}]}
}

// Check a JWS that is not a keygate access token (here RFC 7515 Appendix
// A.1) at the signature level only.
func ExampleVerifySignature() {
	secret, _ := base64.RawURLEncoding.DecodeString("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
	key, _ := jwt.NewHMACKey("rfc7515", secret)
	payload, err := jwt.VerifySignature("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"+
		".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"+
		".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", key)
	fmt.Printf("%q %v\n", payload, err)
	// Output:
	// "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}" <nil>
}
