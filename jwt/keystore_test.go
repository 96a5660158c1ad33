package jwt_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/jwt/jwttest"
)

func TestMemoryKeyStore(t *testing.T) {
	jwttest.TestKeyStore(t, func(*testing.T) jwt.KeyStore { return jwt.NewMemoryKeyStore() })
}

// TestLoadSharedKeys plays instances that start at once on an empty store:
// they end up with one key, the same for all, so that a token issued by
// one verifies on another, and the JWKS are identical.
func TestLoadSharedKeys(t *testing.T) {
	ctx := context.Background()
	store := jwt.NewMemoryKeyStore()
	master := bytes.Repeat([]byte{9}, 32)
	const n = 4
	sets := make([]*jwt.KeySet, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			sets[i], err = jwt.LoadSharedKeys(ctx, jwt.SharedKeysConfig{Store: store, MasterKey: master, Algorithm: jwt.ES256})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	stored, err := store.List(ctx)
	require.NoError(t, err)
	require.Len(t, stored, 1, "one first key, whoever won")
	for _, s := range sets[1:] {
		assert.Equal(t, string(sets[0].JWKS()), string(s.JWKS()))
	}
	assert.NotContains(t, string(stored[0].Sealed), `"pkcs8"`, "sealed, not plain")

	iss, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: sets[0], Issuer: "https://kg.example", Audience: "api"})
	require.NoError(t, err)
	tok, _, err := iss.Issue(t.Context(), jwt.Claims{Subject: "s", ClientID: "c"})
	require.NoError(t, err)
	v, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: sets[n-1], Issuer: "https://kg.example", Audience: "api"})
	require.NoError(t, err)
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err, "issued by one instance, verified by another")

	// A later start loads the same key; another master key cannot.
	again, err := jwt.LoadSharedKeys(ctx, jwt.SharedKeysConfig{Store: store, MasterKey: master})
	require.NoError(t, err)
	assert.Equal(t, string(sets[0].JWKS()), string(again.JWKS()))
	_, err = jwt.LoadSharedKeys(ctx, jwt.SharedKeysConfig{Store: store, MasterKey: bytes.Repeat([]byte{8}, 32)})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), string(master))

	_, err = jwt.LoadSharedKeys(ctx, jwt.SharedKeysConfig{Store: store, MasterKey: []byte("short")})
	require.ErrorIs(t, err, jwt.ErrInvalidConfig)
	_, err = jwt.LoadSharedKeys(ctx, jwt.SharedKeysConfig{MasterKey: master})
	require.ErrorIs(t, err, jwt.ErrInvalidConfig)
}
