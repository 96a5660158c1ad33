package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
)

// denylistCache forgets a CachedDenylist's answers when the broadcast
// names the token revocations.
type denylistCache struct{ d *jwt.CachedDenylist }

func (c denylistCache) Invalidate(id string) {
	if id == TokensRevoked {
		c.d.Invalidate()
	}
}

func (c denylistCache) InvalidateAll() { c.d.Invalidate() }

// TestInvalidationsTokens plays two instances whose cached denylists (TTL
// one day) read one denylist in Redis, joined by Invalidations: once B's
// subscription has reported a revocation made on A, B refuses the token,
// whichever kind of revocation it was, long before its answer expires.
func TestInvalidationsTokens(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	shared, err := NewDenylist(cfg)
	require.NoError(t, err)
	newInstance := func() (*jwt.CachedDenylist, *droppedIDs, keygate.ChangeFunc) {
		d := jwt.NewCachedDenylist(shared, jwt.DenylistCacheConfig{TTL: 24 * time.Hour})
		dropped := newDroppedIDs(denylistCache{d})
		return d, dropped, subscribeCache(t, cfg, dropped)
	}
	a, _, publishA := newInstance()
	b, droppedB, _ := newInstance()
	iat := time.Now().Add(-time.Minute)
	until := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		action        keygate.Action
		jti, sub, fam string
		revoke        func() error
	}{
		{keygate.ActionTokenRevoked, "jti-1", "sub-1", "fam-1", func() error { return a.RevokeToken(ctx, "jti-1", until) }},
		{keygate.ActionSubjectRevoked, "jti-2", "sub-2", "fam-2", func() error { return a.RevokeSubject(ctx, "sub-2", time.Now()) }},
		{keygate.ActionRefreshRevoked, "jti-3", "sub-3", "fam-3", func() error { return a.RevokeSession(ctx, "fam-3", until) }},
		{keygate.ActionRefreshReuse, "jti-4", "sub-4", "fam-4", func() error { return a.RevokeSession(ctx, "fam-4", until) }},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			revoked, err := b.IsRevoked(ctx, tc.jti, tc.sub, tc.fam, iat) // B's answer: not revoked, for a day
			require.NoError(t, err)
			require.False(t, revoked)
			require.NoError(t, tc.revoke())
			revoked, err = b.IsRevoked(ctx, tc.jti, tc.sub, tc.fam, iat)
			require.NoError(t, err)
			require.False(t, revoked, "B answers from memory until it is told")
			droppedB.reset()
			publishA(ctx, keygate.Change{Action: tc.action, KeyID: "key_1", TokenID: tc.jti, Subject: tc.sub})
			droppedB.wait(t, TokensRevoked)
			revoked, err = b.IsRevoked(ctx, tc.jti, tc.sub, tc.fam, iat)
			require.NoError(t, err)
			require.True(t, revoked, "B refuses the token once the broadcast arrived")
		})
	}
}
