package jwt

import (
	"context"
	"testing"
)

func TestSmokeIssueVerify(t *testing.T) {
	for _, alg := range []Algorithm{HS256, RS256, ES256, EdDSA} {
		k, err := GenerateKey("k1", alg)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := NewKeySet(k)
		if err != nil {
			t.Fatal(err)
		}
		iss, err := NewIssuer(IssuerConfig{Keys: ks, Issuer: "https://kg", Audience: "api"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := NewVerifier(VerifierConfig{Keys: ks, Issuer: "https://kg", Audience: "api"})
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.Issue(Claims{Subject: "acct_1", Account: "acct_1", Mode: "test"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		t.Logf("%s: %d bytes, claims %+v, jwks %s", alg, len(tok), c, ks.JWKS())
	}
}
