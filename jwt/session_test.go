package jwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/jwt"
)

// TestFamilyRevocationTakesItsAccessTokens: with RefreshConfig.Denylist,
// revoking a family (by the client, by an administrator) or detecting its
// reuse revokes the access tokens minted with or from it (their sid), in
// the verifier's cache too, and no other family's (RFC 9700 §4.14.2).
// Without it (today's code) those access tokens stayed valid.
func TestFamilyRevocationTakesItsAccessTokens(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"Revoke", "RevokeFamily", "reuse"} {
		t.Run(how, func(t *testing.T) {
			clock := newClock()
			key, err := jwt.GenerateKey("k1", jwt.HS256)
			require.NoError(t, err)
			keys, err := jwt.NewKeySet(key)
			require.NoError(t, err)
			deny := jwt.NewMemoryDenylist()
			iss, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: keys, Issuer: "https://i", Audience: "api", Now: clock.Now})
			require.NoError(t, err)
			ver, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: keys, Issuer: "https://i", Audience: "api", Now: clock.Now, Denylist: deny})
			require.NoError(t, err)
			rt, err := jwt.NewRefreshTokens(jwt.RefreshConfig{Now: clock.Now, Denylist: deny})
			require.NoError(t, err)

			first, rec, err := rt.Issue(ctx, testGrant)
			require.NoError(t, err)
			_, other, err := rt.Issue(ctx, testGrant)
			require.NoError(t, err)
			mint := func(r jwt.RefreshRecord) string {
				tok, c, err := iss.Issue(t.Context(), r.AccessClaims())
				require.NoError(t, err)
				require.Equal(t, r.Family, c.Session)
				return tok
			}
			access := mint(rec)
			otherAccess := mint(other)
			next, nextRec, err := rt.Rotate(ctx, first, clientA)
			require.NoError(t, err)
			refreshed := mint(nextRec)
			for _, tok := range []string{access, refreshed, otherAccess} {
				_, err := ver.Verify(ctx, tok) // cached now
				require.NoError(t, err)
			}

			clock.Advance(time.Minute)
			switch how {
			case "Revoke":
				require.NoError(t, rt.Revoke(ctx, next, clientA))
			case "RevokeFamily":
				require.NoError(t, rt.RevokeFamily(ctx, rec.Family))
			case "reuse":
				_, _, err := rt.Rotate(ctx, first, clientA)
				require.ErrorIs(t, err, jwt.ErrRefreshReuse)
			}
			for name, tok := range map[string]string{"first": access, "refreshed": refreshed} {
				_, err := ver.Verify(ctx, tok)
				assert.ErrorIs(t, err, jwt.ErrRevoked, "the family's %s access token", name)
			}
			_, err = ver.Verify(ctx, otherAccess)
			assert.NoError(t, err, "another family's access token")
		})
	}
}

// sessionRecorder is a Denylist that records each RevokeSession's until.
type sessionRecorder struct {
	*jwt.MemoryDenylist
	until map[string]time.Time
}

func (r *sessionRecorder) RevokeSession(ctx context.Context, session string, until time.Time) error {
	r.until[session] = until
	return r.MemoryDenylist.RevokeSession(ctx, session, until)
}

// TestRevokedSessionLastsAccessTokenTTL: a revoked family's denylist entry
// lasts RefreshConfig.AccessTokenTTL past the revocation, when its last
// access token expires; zero means the absolute lifetime. A negative one
// is refused.
func TestRevokedSessionLastsAccessTokenTTL(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{"set", 15 * time.Minute, 15 * time.Minute},
		{"zero", 0, jwt.DefaultRefreshAbsoluteLifetime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			rec := &sessionRecorder{MemoryDenylist: jwt.NewMemoryDenylist(), until: map[string]time.Time{}}
			rt, err := jwt.NewRefreshTokens(jwt.RefreshConfig{Now: clock.Now, Denylist: rec, AccessTokenTTL: tc.ttl})
			require.NoError(t, err)
			_, fam, err := rt.Issue(ctx, testGrant)
			require.NoError(t, err)
			clock.Advance(time.Minute)
			require.NoError(t, rt.RevokeFamily(ctx, fam.Family))
			require.Equal(t, map[string]time.Time{fam.Family: clock.Now().Add(tc.want)}, rec.until)
		})
	}
	_, err := jwt.NewRefreshTokens(jwt.RefreshConfig{AccessTokenTTL: -time.Second})
	require.ErrorIs(t, err, jwt.ErrInvalidConfig)
}
