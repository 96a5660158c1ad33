package jwt

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"github.com/keygate/keygate"
	"testing"
)

// benchVerifier issues one token with a fresh key of alg and returns a
// verifier for it.
func benchVerifier(b *testing.B, alg Algorithm, cacheSize int) (*Verifier, string, *Key) {
	b.Helper()
	k, err := GenerateKey("bench", alg)
	if err != nil {
		b.Fatal(err)
	}
	ks, err := NewKeySet(k)
	if err != nil {
		b.Fatal(err)
	}
	iss, err := NewIssuer(IssuerConfig{Keys: ks, Issuer: "https://keygate.test", Audience: "api"})
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Keys: ks, Issuer: "https://keygate.test", Audience: "api", CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := iss.Issue(b.Context(), Claims{Subject: "acct_1", ClientID: "0jPS8MolTrPGFJph", Scope: "products:read offers:write",
		Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        "test",
			Package:     "GO",
			Permissions: []string{"products:read", "offers:write"},
			Stores:      []string{"store_1"},
		}})
	if err != nil {
		b.Fatal(err)
	}
	return v, tok, k
}

// BenchmarkVerify measures a full verification of a token never seen
// before (the cache is off), per algorithm.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []Algorithm{HS256, RS256, ES256, EdDSA} {
		b.Run(string(alg), func(b *testing.B) {
			v, tok, _ := benchVerifier(b, alg, -1)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyCached measures a token presented again.
func BenchmarkVerifyCached(b *testing.B) {
	v, tok, _ := benchVerifier(b, HS256, 0)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRSAVerifyAlone is rsa.VerifyPKCS1v15 on the same token: the floor
// for BenchmarkVerify/RS256.
func BenchmarkRSAVerifyAlone(b *testing.B) {
	_, tok, k := benchVerifier(b, RS256, -1)
	p, err := parse(tok)
	if err != nil {
		b.Fatal(err)
	}
	pub := k.public.(*rsa.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		digest := sha256.Sum256([]byte(p.signingInput))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.signature); err != nil {
			b.Fatal(err)
		}
	}
}
