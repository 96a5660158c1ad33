package middleware_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The floors below are the minimal standard-library implementations of
// the checks each bearer path must make, behind the same handler shape as
// the middleware benchmarks (the identity handed through the request
// context), so that keygate's ratio to its floor reads in one process:
//
//	go test -run '^$' -bench 'APIKey(Middleware|Floor)$|JWT(Middleware|CachedFloor|RS256Floor)' ./middleware/

type floorKey struct{}

// floorIdentity is what the floors hand to the handler.
type floorIdentity struct {
	account string
	stores  []string
}

// floorHandler answers 401 or calls next with the identity in the context.
func floorHandler(check func(token string) (*floorIdentity, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id, ok := check(token)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		usesClaims.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, id)))
	})
}

// usesClaims is the handler behind a floor: it answers 204.
var usesClaims = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

// BenchmarkAPIKeyFloor is the floor of BenchmarkAPIKeyMiddleware: parse
// Bearer, SHA-256 of the secret, map lookup of the key ID, constant-time
// compare, context.
func BenchmarkAPIKeyFloor(b *testing.B) {
	f := newPlainFixture(b)
	key := f.testSK
	id := key[:len(key)/2]
	type record struct {
		sum [32]byte
		id  floorIdentity
	}
	keys := map[string]*record{id: {sum: sha256.Sum256([]byte(key)), id: floorIdentity{account: "acct_1", stores: []string{"store_1"}}}}
	h := floorHandler(func(token string) (*floorIdentity, bool) {
		if len(token) < len(id) {
			return nil, false
		}
		sum := sha256.Sum256([]byte(token))
		rec, ok := keys[token[:len(id)]]
		if !ok || subtle.ConstantTimeCompare(sum[:], rec.sum[:]) != 1 {
			return nil, false
		}
		return &rec.id, true
	})
	benchmarkHandler(b, h, key)
}

// BenchmarkJWTCachedFloor is the floor of BenchmarkJWTMiddleware/HS256/cached:
// parse Bearer, look the token up in a map of verified tokens, check its
// expiry, context.
func BenchmarkJWTCachedFloor(b *testing.B) {
	f := newTokenFixture(b, "HS256", 0)
	tok := f.token(b, "test")
	type entry struct {
		exp time.Time
		id  floorIdentity
	}
	cache := map[string]*entry{tok: {exp: time.Now().Add(time.Hour), id: floorIdentity{account: "acct_1", stores: []string{"store_1", "store_2"}}}}
	h := floorHandler(func(token string) (*floorIdentity, bool) {
		e, ok := cache[token]
		if !ok || !time.Now().Before(e.exp) {
			return nil, false
		}
		return &e.id, true
	})
	benchmarkHandler(b, h, tok)
}

// BenchmarkJWTRS256Floor is the floor of BenchmarkJWTMiddleware/RS256/first:
// SHA-256 of a signing input of the same length and rsa.VerifyPKCS1v15 with
// a 2048-bit key (what jwt.GenerateKey makes for RS256), nothing else.
func BenchmarkJWTRS256Floor(b *testing.B) {
	f := newTokenFixture(b, "RS256", -1)
	tok := f.token(b, "test")
	input := []byte(tok[:strings.LastIndexByte(tok, '.')])
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256(input)
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		digest := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
