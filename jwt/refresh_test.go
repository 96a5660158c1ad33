package jwt_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/jwt/jwttest"
)

func TestMemoryRefreshStore(t *testing.T) {
	jwttest.TestRefreshStore(t, func(*testing.T) jwt.RefreshStore { return jwt.NewMemoryRefreshStore() })
}

// fakeClock is an injectable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingRefreshStore counts the calls that reach the store, and fails
// them with err when err is set.
type countingRefreshStore struct {
	jwt.RefreshStore
	calls atomic.Int64
	err   error
}

func (s *countingRefreshStore) Get(ctx context.Context, h [32]byte) (jwt.RefreshRecord, error) {
	s.calls.Add(1)
	if s.err != nil {
		return jwt.RefreshRecord{}, s.err
	}
	return s.RefreshStore.Get(ctx, h)
}

func (s *countingRefreshStore) Rotate(ctx context.Context, old [32]byte, next jwt.RefreshRecord, now time.Time) (jwt.RefreshRecord, error) {
	s.calls.Add(1)
	if s.err != nil {
		return jwt.RefreshRecord{}, s.err
	}
	return s.RefreshStore.Rotate(ctx, old, next, now)
}

func (s *countingRefreshStore) RevokeFamily(ctx context.Context, family string, at time.Time) error {
	s.calls.Add(1)
	if s.err != nil {
		return s.err
	}
	return s.RefreshStore.RevokeFamily(ctx, family, at)
}

const (
	clientA = "clientA000000000"
	clientB = "clientB000000000"
)

var testGrant = jwt.RefreshGrant{
	ClientID: clientA,
	Subject:  "user_1",
	Scope:    "products:read offers:write",
	Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Package:     "GO",
		Permissions: []string{"products:read", "offers:write"},
		Stores:      []string{"store_1"},
		AllowedIPs:  []string{"10.0.0.0/8"},
	},
}

type refreshEnv struct {
	clock  *fakeClock
	store  *countingRefreshStore
	rt     *jwt.RefreshTokens
	mu     sync.Mutex
	events []keygate.Change
}

const (
	testIdle     = 24 * time.Hour
	testAbsolute = 7 * 24 * time.Hour
)

func newRefreshEnv(t *testing.T) *refreshEnv {
	t.Helper()
	e := &refreshEnv{clock: newClock(), store: &countingRefreshStore{RefreshStore: jwt.NewMemoryRefreshStore()}}
	rt, err := jwt.NewRefreshTokens(jwt.RefreshConfig{
		Store:            e.store,
		IdleTimeout:      testIdle,
		AbsoluteLifetime: testAbsolute,
		Now:              e.clock.Now,
		OnChange: func(_ context.Context, ev keygate.Change) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		},
	})
	require.NoError(t, err)
	e.rt = rt
	return e
}

func (e *refreshEnv) issue(t *testing.T) (string, jwt.RefreshRecord) {
	t.Helper()
	tok, rec, err := e.rt.Issue(context.Background(), testGrant)
	require.NoError(t, err)
	return tok, rec
}

func (e *refreshEnv) rotate(t *testing.T, tok string) (string, jwt.RefreshRecord) {
	t.Helper()
	next, rec, err := e.rt.Rotate(context.Background(), tok, clientA)
	require.NoError(t, err)
	return next, rec
}

// changes returns the changes reported so far.
func (e *refreshEnv) changes() []keygate.Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]keygate.Change(nil), e.events...)
}

var refreshTokenRE = regexp.MustCompile(`^kgrt_[A-Za-z0-9_-]{43}$`)

func TestRefreshIssue(t *testing.T) {
	e := newRefreshEnv(t)
	now := e.clock.Now()
	tok, rec := e.issue(t)
	assert.Regexp(t, refreshTokenRE, tok)
	assert.Len(t, tok, jwt.RefreshTokenLen)
	assert.Equal(t, sha256.Sum256([]byte(tok)), rec.Hash, "the record keeps the SHA-256 of the whole token")
	assert.NotEmpty(t, rec.Family)
	assert.Equal(t, jwt.RefreshActive, rec.Status)
	assert.Equal(t, now, rec.IssuedAt)
	assert.Equal(t, now.Add(testIdle), rec.IdleExpiresAt)
	assert.Equal(t, now.Add(testAbsolute), rec.AbsoluteExpiresAt)
	assert.True(t, rec.RotatedAt.IsZero() && rec.RevokedAt.IsZero())
	assert.Equal(t, testGrant, jwt.RefreshGrant{ClientID: rec.ClientID, Subject: rec.Subject, Scope: rec.Scope, Grant: rec.Grant})
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", rec, rec, rec), tok[len(jwt.RefreshTokenPrefix):], "the record never holds the token")

	stored, err := e.rt.Store().Get(context.Background(), rec.Hash)
	require.NoError(t, err)
	assert.Equal(t, rec, stored)

	// Tokens and families are random.
	tok2, rec2 := e.issue(t)
	assert.NotEqual(t, tok, tok2)
	assert.NotEqual(t, rec.Family, rec2.Family)
}

func TestRefreshIssueCopiesSlices(t *testing.T) {
	e := newRefreshEnv(t)
	g := testGrant
	g.Permissions = []string{"a", "b"}
	_, rec, err := e.rt.Issue(context.Background(), g)
	require.NoError(t, err)
	g.Permissions[0] = "mutated"
	rec.Permissions[1] = "mutated"
	got, err := e.rt.Store().Get(context.Background(), rec.Hash)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, got.Permissions)
}

func TestRefreshIssueInvalid(t *testing.T) {
	e := newRefreshEnv(t)
	for name, mutate := range map[string]func(*jwt.RefreshGrant){
		"no client ID": func(g *jwt.RefreshGrant) { g.ClientID = "" },
		"no subject":   func(g *jwt.RefreshGrant) { g.Subject = "" },
		"no account":   func(g *jwt.RefreshGrant) { g.Account = "" },
		"no mode":      func(g *jwt.RefreshGrant) { g.Mode = "" },
		"bad mode":     func(g *jwt.RefreshGrant) { g.Mode = "prod" },
		// A family carries no denied IPs and no country rules: a grant
		// with them is refused rather than silently narrowed.
		"denied IPs":        func(g *jwt.RefreshGrant) { g.DeniedIPs = []string{"10.1.0.0/16"} },
		"allowed countries": func(g *jwt.RefreshGrant) { g.AllowedCountries = []string{"SE"} },
		"denied countries":  func(g *jwt.RefreshGrant) { g.DeniedCountries = []string{"KP"} },
	} {
		t.Run(name, func(t *testing.T) {
			g := testGrant
			mutate(&g)
			tok, _, err := e.rt.Issue(context.Background(), g)
			assert.ErrorIs(t, err, jwt.ErrInvalidParams)
			assert.Empty(t, tok)
		})
	}
}

func TestNewRefreshTokensConfig(t *testing.T) {
	for _, cfg := range []jwt.RefreshConfig{{IdleTimeout: -time.Second}, {AbsoluteLifetime: -time.Second}} {
		_, err := jwt.NewRefreshTokens(cfg)
		assert.ErrorIs(t, err, jwt.ErrInvalidConfig)
	}

	clock := newClock()
	rt, err := jwt.NewRefreshTokens(jwt.RefreshConfig{Now: clock.Now})
	require.NoError(t, err)
	assert.IsType(t, &jwt.MemoryRefreshStore{}, rt.Store(), "the default store is in memory")
	_, rec, err := rt.Issue(context.Background(), testGrant)
	require.NoError(t, err)
	assert.Equal(t, clock.Now().Add(jwt.DefaultRefreshIdleTimeout), rec.IdleExpiresAt)
	assert.Equal(t, clock.Now().Add(jwt.DefaultRefreshAbsoluteLifetime), rec.AbsoluteExpiresAt)
	assert.Equal(t, 14*24*time.Hour, jwt.DefaultRefreshIdleTimeout)
	assert.Equal(t, 90*24*time.Hour, jwt.DefaultRefreshAbsoluteLifetime)

	// An idle timeout longer than the absolute lifetime is capped by it.
	rt, err = jwt.NewRefreshTokens(jwt.RefreshConfig{Now: clock.Now, IdleTimeout: 2 * time.Hour, AbsoluteLifetime: time.Hour})
	require.NoError(t, err)
	_, rec, err = rt.Issue(context.Background(), testGrant)
	require.NoError(t, err)
	assert.Equal(t, clock.Now().Add(time.Hour), rec.IdleExpiresAt)
}

// TestRefreshLifetimes drives sessions through the injected clock: steps
// advance the clock and then refresh with the current token.
func TestRefreshLifetimes(t *testing.T) {
	type step struct {
		advance time.Duration
		wantErr error // nil: the refresh succeeds
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"refresh right away", []step{{0, nil}}},
		{"just before the idle timeout", []step{{testIdle - time.Nanosecond, nil}}},
		{"at the idle timeout", []step{{testIdle, jwt.ErrRefreshExpired}}},
		{"after the idle timeout", []step{{testIdle + time.Hour, jwt.ErrRefreshExpired}}},
		{"each refresh slides the idle timeout", []step{
			{testIdle - time.Hour, nil}, {testIdle - time.Hour, nil}, {testIdle - time.Hour, nil},
		}},
		{"the slid deadline expires too", []step{{testIdle - time.Hour, nil}, {testIdle, jwt.ErrRefreshExpired}}},
		{"the absolute lifetime caps a session refreshed often", []step{
			{20 * time.Hour, nil}, {20 * time.Hour, nil}, {20 * time.Hour, nil}, {20 * time.Hour, nil},
			{20 * time.Hour, nil}, {20 * time.Hour, nil}, {20 * time.Hour, nil}, {20 * time.Hour, nil}, // 160h
			{8*time.Hour - time.Nanosecond, nil}, // just before 168h = 7 days
			{time.Nanosecond, jwt.ErrRefreshExpired},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRefreshEnv(t)
			tok, first := e.issue(t)
			for i, s := range tt.steps {
				e.clock.Advance(s.advance)
				now := e.clock.Now()
				next, rec, err := e.rt.Rotate(context.Background(), tok, clientA)
				if s.wantErr != nil {
					require.ErrorIs(t, err, s.wantErr, "step %d", i)
					require.ErrorIs(t, err, jwt.ErrRefreshInvalid, "every refresh error is invalid_grant")
					assert.Empty(t, next)
					// Expiry is not reuse: nothing is revoked or rotated.
					cur, err := e.rt.Lookup(context.Background(), tok)
					require.NoError(t, err)
					assert.Equal(t, jwt.RefreshActive, cur.Status)
					assert.False(t, cur.Active(now))
					assert.Empty(t, e.changes())
					return
				}
				require.NoError(t, err, "step %d", i)
				assert.Regexp(t, refreshTokenRE, next)
				assert.NotEqual(t, tok, next)
				assert.Equal(t, first.Family, rec.Family)
				assert.Equal(t, now, rec.IssuedAt)
				assert.Equal(t, first.AbsoluteExpiresAt, rec.AbsoluteExpiresAt, "rotation never moves the absolute deadline")
				want := now.Add(testIdle)
				if want.After(first.AbsoluteExpiresAt) {
					want = first.AbsoluteExpiresAt
				}
				assert.Equal(t, want, rec.IdleExpiresAt, "step %d: idle deadline = min(now+idle, absolute)", i)
				assert.True(t, rec.Active(now))
				old, err := e.rt.Lookup(context.Background(), tok)
				require.NoError(t, err)
				assert.Equal(t, jwt.RefreshRotated, old.Status)
				assert.Equal(t, now, old.RotatedAt)
				assert.False(t, old.Active(now))
				tok = next
			}
		})
	}
}

func TestRefreshRotateKeepsGrant(t *testing.T) {
	e := newRefreshEnv(t)
	tok, first := e.issue(t)
	e.clock.Advance(time.Hour)
	_, rec := e.rotate(t, tok)
	assert.Equal(t, first.ClientID, rec.ClientID)
	assert.Equal(t, first.Subject, rec.Subject)
	assert.Equal(t, first.Account, rec.Account)
	assert.Equal(t, first.Mode, rec.Mode)
	assert.Equal(t, first.Scope, rec.Scope, "RFC 6749 §6: the new refresh token keeps the scope")
	assert.Equal(t, first.Package, rec.Package)
	assert.Equal(t, first.Permissions, rec.Permissions)
	assert.Equal(t, first.Stores, rec.Stores)
	assert.Equal(t, first.AllowedIPs, rec.AllowedIPs)
	assert.Equal(t, jwt.RefreshActive, rec.Status)
	assert.True(t, rec.RotatedAt.IsZero() && rec.RevokedAt.IsZero())
}

func TestRefreshClientBinding(t *testing.T) {
	e := newRefreshEnv(t)
	tok, _ := e.issue(t)
	for _, client := range []string{clientB, "", strings.ToUpper(clientA)} {
		_, _, err := e.rt.Rotate(context.Background(), tok, client)
		require.ErrorIs(t, err, jwt.ErrRefreshClient, "client %q", client)
		require.ErrorIs(t, err, jwt.ErrRefreshInvalid)
	}
	// The refused attempts changed nothing: the owner still refreshes, and
	// no reuse was recorded.
	e.rotate(t, tok)
	assert.Empty(t, e.changes())

	// Another client presenting a rotated token is refused before reuse
	// detection, and cannot revoke the owner's session that way.
	_, _, err := e.rt.Rotate(context.Background(), tok, clientB)
	require.ErrorIs(t, err, jwt.ErrRefreshClient)
	assert.Empty(t, e.changes())
}

func TestRefreshReuse(t *testing.T) {
	e := newRefreshEnv(t)
	a, recA := e.issue(t)
	e.clock.Advance(time.Minute)
	b, _ := e.rotate(t, a)

	e.clock.Advance(time.Minute)
	reusedAt := e.clock.Now()
	next, _, err := e.rt.Rotate(context.Background(), a, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshReuse)
	require.ErrorIs(t, err, jwt.ErrRefreshInvalid)
	assert.Empty(t, next)

	events := e.changes()
	require.Len(t, events, 1)
	assert.Equal(t, keygate.Change{
		Action: keygate.ActionRefreshReuse, Time: reusedAt, Actor: clientA, KeyID: clientA,
		TokenID: recA.Family, Subject: "user_1", Account: "acct_1", Mode: keygate.ModeTest,
	}, events[0])
	dump := fmt.Sprintf("%v %+v %#v", events[0], events[0], events[0])
	for _, tok := range []string{a, b} {
		assert.NotContains(t, dump, tok[len(jwt.RefreshTokenPrefix):], "the event never holds a token")
	}

	// The token issued in exchange is dead: the legitimate client has to
	// sign in again. It had not been used, so it is revoked, not reused.
	_, _, err = e.rt.Rotate(context.Background(), b, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshRevoked)
	assert.NotErrorIs(t, err, jwt.ErrRefreshReuse)
	for _, tok := range []string{a, b} {
		rec, err := e.rt.Lookup(context.Background(), tok)
		require.NoError(t, err)
		assert.Equal(t, jwt.RefreshRevoked, rec.Status)
		assert.Equal(t, reusedAt, rec.RevokedAt)
		assert.False(t, rec.Active(e.clock.Now()))
	}
	assert.Len(t, e.changes(), 1, "presenting a revoked, never used token is no reuse event")

	// Every further presentation of the rotated token is reported again.
	_, _, err = e.rt.Rotate(context.Background(), a, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshReuse)
	assert.Len(t, e.changes(), 2)
}

// TestRefreshReuseOfExpiredToken presents a rotated token after its own
// idle deadline, while its family lives on: it is still reuse.
func TestRefreshReuseOfExpiredToken(t *testing.T) {
	e := newRefreshEnv(t)
	a, _ := e.issue(t)
	e.clock.Advance(time.Hour)
	b, _ := e.rotate(t, a)
	e.clock.Advance(testIdle - time.Hour)
	c, _ := e.rotate(t, b)
	e.clock.Advance(2 * time.Hour) // a's own idle deadline has passed, c's has not

	_, _, err := e.rt.Rotate(context.Background(), a, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshReuse)
	assert.Len(t, e.changes(), 1)
	_, _, err = e.rt.Rotate(context.Background(), c, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshRevoked, "the current token dies with its family")
}

// TestRefreshConcurrentRotate exchanges one token from many goroutines:
// with no grace window, exactly one wins, the others are reuse, and the
// winner's new token is revoked with the family.
func TestRefreshConcurrentRotate(t *testing.T) {
	const racers = 16
	e := newRefreshEnv(t)
	tok, _ := e.issue(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]string, racers)
	errs := make([]error, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], _, errs[i] = e.rt.Rotate(context.Background(), tok, clientA)
		}()
	}
	close(start)
	wg.Wait()
	var winner string
	for i, err := range errs {
		if err == nil {
			require.Empty(t, winner, "two concurrent refreshes with one token succeeded")
			winner = results[i]
			continue
		}
		require.ErrorIs(t, err, jwt.ErrRefreshReuse)
	}
	require.NotEmpty(t, winner, "no concurrent refresh succeeded")
	assert.Len(t, e.changes(), racers-1)
	_, _, err := e.rt.Rotate(context.Background(), winner, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshRevoked)
}

func TestRefreshRevoke(t *testing.T) {
	ctx := context.Background()
	t.Run("owner revokes the family", func(t *testing.T) {
		e := newRefreshEnv(t)
		a, _ := e.issue(t)
		b, _ := e.rotate(t, a)
		c, _ := e.rotate(t, b)
		e.clock.Advance(time.Minute)
		// Any token of the family revokes it, even an old one.
		require.NoError(t, e.rt.Revoke(ctx, a, clientA))
		for _, tok := range []string{a, b, c} {
			rec, err := e.rt.Lookup(ctx, tok)
			require.NoError(t, err)
			assert.Equal(t, jwt.RefreshRevoked, rec.Status)
			assert.Equal(t, e.clock.Now(), rec.RevokedAt)
		}
		_, _, err := e.rt.Rotate(ctx, c, clientA)
		require.ErrorIs(t, err, jwt.ErrRefreshRevoked)
		require.NoError(t, e.rt.Revoke(ctx, c, clientA), "revocation is idempotent")
		rec, err := e.rt.Lookup(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, []keygate.Change{{
			Action: keygate.ActionRefreshRevoked, Time: e.clock.Now(), Actor: clientA, KeyID: clientA,
			TokenID: rec.Family, Subject: "user_1", Account: "acct_1", Mode: keygate.ModeTest,
		}}, e.changes(), "one report, and none for revoking again")
	})
	t.Run("another client is refused and changes nothing", func(t *testing.T) {
		e := newRefreshEnv(t)
		a, _ := e.issue(t)
		require.ErrorIs(t, e.rt.Revoke(ctx, a, clientB), jwt.ErrRefreshClient)
		rec, err := e.rt.Lookup(ctx, a)
		require.NoError(t, err)
		assert.Equal(t, jwt.RefreshActive, rec.Status)
		assert.Empty(t, e.changes())
		e.rotate(t, a)
	})
	t.Run("invalid tokens are no error", func(t *testing.T) {
		e := newRefreshEnv(t)
		for _, tok := range []string{"", "garbage", "kgrt_" + strings.Repeat("A", 43), "kgot_" + strings.Repeat("A", 43)} {
			assert.NoError(t, e.rt.Revoke(ctx, tok, clientA), "RFC 7009 §2.2")
		}
	})
	t.Run("store failure", func(t *testing.T) {
		e := newRefreshEnv(t)
		a, _ := e.issue(t)
		boom := errors.New("store down")
		e.store.err = boom
		err := e.rt.Revoke(ctx, a, clientA)
		require.ErrorIs(t, err, boom)
		assert.NotErrorIs(t, err, jwt.ErrRefreshInvalid)
	})
}

func TestRefreshRevokeFamily(t *testing.T) {
	admin := keygate.WithActor(context.Background(), "admin_1")
	t.Run("revokes every token of the family, and only those", func(t *testing.T) {
		e := newRefreshEnv(t)
		a, rec := e.issue(t)
		b, _ := e.rotate(t, a)
		c, _ := e.rotate(t, b)
		other, otherRec := e.issue(t)
		require.NotEqual(t, rec.Family, otherRec.Family)
		assert.Regexp(t, `^[A-Z2-7]{1,64}$`, rec.Family, "Issue makes what RevokeFamily takes")
		e.clock.Advance(time.Minute)

		require.NoError(t, e.rt.RevokeFamily(admin, rec.Family))
		for _, tok := range []string{a, b, c} {
			r, err := e.rt.Lookup(admin, tok)
			require.NoError(t, err)
			assert.Equal(t, jwt.RefreshRevoked, r.Status)
			assert.Equal(t, e.clock.Now(), r.RevokedAt)
		}
		_, _, err := e.rt.Rotate(admin, c, clientA)
		require.ErrorIs(t, err, jwt.ErrRefreshRevoked)
		assert.Equal(t, []keygate.Change{{
			Action: keygate.ActionRefreshRevoked, Time: e.clock.Now(), Actor: "admin_1", TokenID: rec.Family,
		}}, e.changes(), "the administrator acts; no client is checked or named")
		e.rotate(t, other) // another family is untouched
	})
	t.Run("unknown and revoked families are no error", func(t *testing.T) {
		e := newRefreshEnv(t)
		_, rec := e.issue(t)
		require.NoError(t, e.rt.RevokeFamily(admin, rec.Family))
		require.NoError(t, e.rt.RevokeFamily(admin, rec.Family), "idempotent")
		require.NoError(t, e.rt.RevokeFamily(admin, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
		assert.Len(t, e.changes(), 3, "the store does not say whether anything changed: every call is reported")
	})
	t.Run("the actor of an authenticated context", func(t *testing.T) {
		e := newRefreshEnv(t)
		_, rec := e.issue(t)
		caller := keygate.NewContext(context.Background(), keygate.Principal{KeyID: "bk_caller"})
		require.NoError(t, e.rt.RevokeFamily(caller, rec.Family))
		require.Len(t, e.changes(), 1)
		assert.Equal(t, "bk_caller", e.changes()[0].Actor)
	})
	t.Run("invalid family IDs", func(t *testing.T) {
		e := newRefreshEnv(t)
		a, rec := e.issue(t)
		calls := e.store.calls.Load()
		for _, family := range []string{
			"", strings.ToLower(rec.Family), rec.Family + "=", "ABC1", "ABC0", "ABC DEF", "ABC\n", strings.Repeat("A", jwt.MaxFamilyLen+1),
			a, // a token is no family ID
		} {
			err := e.rt.RevokeFamily(admin, family)
			require.ErrorIs(t, err, jwt.ErrInvalidFamily, "%q", family)
			assert.ErrorIs(t, err, jwt.ErrInvalidParams)
			assert.NotErrorIs(t, err, jwt.ErrRefreshInvalid, "no invalid_grant")
			assert.Equal(t, jwt.ErrInvalidFamily.Error(), err.Error(), "the error does not repeat the input")
		}
		require.NoError(t, e.rt.RevokeFamily(admin, strings.Repeat("A", jwt.MaxFamilyLen)))
		assert.Equal(t, calls+1, e.store.calls.Load(), "invalid IDs never reach the store")
		e.rotate(t, a)
	})
	t.Run("store failure", func(t *testing.T) {
		e := newRefreshEnv(t)
		_, rec := e.issue(t)
		boom := errors.New("store down")
		e.store.err = boom
		err := e.rt.RevokeFamily(admin, rec.Family)
		require.ErrorIs(t, err, boom)
		assert.NotErrorIs(t, err, jwt.ErrInvalidParams)
		assert.Empty(t, e.changes())
	})
	t.Run("cancelled context", func(t *testing.T) {
		e := newRefreshEnv(t)
		a, rec := e.issue(t)
		ctx, cancel := context.WithCancel(admin)
		cancel()
		require.ErrorIs(t, e.rt.RevokeFamily(ctx, rec.Family), context.Canceled)
		assert.Empty(t, e.changes())
		e.rotate(t, a) // untouched
	})
}

func TestRefreshMalformed(t *testing.T) {
	e := newRefreshEnv(t)
	good, _ := e.issue(t)
	oneTime := jwt.OneTimeTokenPrefix + good[len(jwt.RefreshTokenPrefix):]
	tests := map[string]string{
		"empty":               "",
		"prefix only":         jwt.RefreshTokenPrefix,
		"one-time prefix":     oneTime,
		"upper-case prefix":   "KGRT_" + good[5:],
		"one char short":      good[:len(good)-1],
		"one char long":       good + "A",
		"padding":             good[:len(good)-1] + "=",
		"standard base64":     good[:len(good)-1] + "+",
		"slash":               good[:len(good)-1] + "/",
		"space":               good[:len(good)-1] + " ",
		"NUL":                 good[:len(good)-1] + "\x00",
		"unicode":             good[:len(good)-2] + "é",
		"with whitespace":     " " + good,
		"10 KB":               jwt.RefreshTokenPrefix + strings.Repeat("A", 10<<10),
		"an access token":     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
		"an API key":          "bk_test_sk_" + strings.Repeat("A", 65),
		"no prefix":           good[len(jwt.RefreshTokenPrefix):],
		"prefix without sep.": "kgrtA" + good[5:], // never "kgrt_": good[5] may itself be "_"
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			before := e.store.calls.Load()
			_, _, err := e.rt.Rotate(context.Background(), tok, clientA)
			require.ErrorIs(t, err, jwt.ErrRefreshInvalid)
			_, err = e.rt.Lookup(context.Background(), tok)
			require.ErrorIs(t, err, jwt.ErrRefreshInvalid)
			assert.Equal(t, before, e.store.calls.Load(), "a malformed token never reaches the store")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		unknown := jwt.RefreshTokenPrefix + strings.Repeat("A", jwt.OpaqueSecretLen)
		_, _, err := e.rt.Rotate(context.Background(), unknown, clientA)
		require.ErrorIs(t, err, jwt.ErrRefreshInvalid)
		for _, sentinel := range []error{jwt.ErrRefreshExpired, jwt.ErrRefreshRevoked, jwt.ErrRefreshReuse, jwt.ErrRefreshClient} {
			assert.NotErrorIs(t, err, sentinel)
		}
	})
	// The good token was never touched.
	e.rotate(t, good)
}

// TestRefreshErrorsHoldNoToken collects the errors of every refusal and
// checks that none contains the token.
func TestRefreshErrorsHoldNoToken(t *testing.T) {
	e := newRefreshEnv(t)
	ctx := context.Background()
	a, _ := e.issue(t)
	b, _ := e.rotate(t, a)
	var errs []error
	_, _, err := e.rt.Rotate(ctx, b, clientB)
	errs = append(errs, err)
	_, _, err = e.rt.Rotate(ctx, a, clientA) // reuse
	errs = append(errs, err)
	_, _, err = e.rt.Rotate(ctx, b, clientA) // revoked
	errs = append(errs, err)
	c, _ := e.issue(t)
	e.clock.Advance(testAbsolute)
	_, _, err = e.rt.Rotate(ctx, c, clientA) // expired
	errs = append(errs, err)
	errs = append(errs, e.rt.Revoke(ctx, c, clientB))
	for _, err := range errs {
		require.Error(t, err)
		for _, tok := range []string{a, b, c} {
			assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), tok[len(jwt.RefreshTokenPrefix):])
		}
	}
}

func TestRefreshStoreFailure(t *testing.T) {
	e := newRefreshEnv(t)
	a, _ := e.issue(t)
	boom := errors.New("store down")
	e.store.err = boom
	_, _, err := e.rt.Rotate(context.Background(), a, clientA)
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, jwt.ErrRefreshInvalid, "a store failure is no invalid_grant")
	_, err = e.rt.Lookup(context.Background(), a)
	require.ErrorIs(t, err, boom)
}

func TestRefreshCancelledContext(t *testing.T) {
	e := newRefreshEnv(t)
	a, _ := e.issue(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := e.rt.Issue(ctx, testGrant)
	require.ErrorIs(t, err, context.Canceled)
	_, _, err = e.rt.Rotate(ctx, a, clientA)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, jwt.ErrRefreshInvalid)
	require.ErrorIs(t, e.rt.Revoke(ctx, a, clientA), context.Canceled)
	e.rotate(t, a) // untouched
}

func TestRefreshAccessClaims(t *testing.T) {
	e := newRefreshEnv(t)
	_, rec := e.issue(t)
	c := rec.AccessClaims()
	assert.Equal(t, jwt.Claims{
		Subject: "user_1", ClientID: clientA, Scope: testGrant.Scope, Session: rec.Family, Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        keygate.ModeTest,
			Package:     "GO",
			Permissions: testGrant.Permissions,
			Stores:      testGrant.Stores,
			AllowedIPs:  testGrant.AllowedIPs,
		}}, c)
	c.Permissions[0] = "mutated"
	assert.Equal(t, "products:read", rec.Permissions[0], "AccessClaims copies the slices")
}

// TestMemoryRefreshStoreSweep checks that the memory store forgets families
// whose absolute lifetime has passed, by the caller's clock, and only those.
func TestMemoryRefreshStoreSweep(t *testing.T) {
	ctx := context.Background()
	s := jwt.NewMemoryRefreshStore()
	t0 := newClock().Now()
	rec := func(issued, abs time.Time) jwt.RefreshRecord {
		return jwt.RefreshRecord{
			Hash: sha256.Sum256([]byte(fmt.Sprint(issued, abs, time.Now().UnixNano()))), Family: fmt.Sprint("fam", time.Now().UnixNano()),
			IssuedAt: issued, IdleExpiresAt: abs, AbsoluteExpiresAt: abs, Status: jwt.RefreshActive,
		}
	}
	dead := rec(t0, t0.Add(time.Hour))
	alive := rec(t0, t0.Add(100*time.Hour))
	require.NoError(t, s.Create(ctx, dead))
	require.NoError(t, s.Create(ctx, alive))
	for i := 0; i < 1100; i++ {
		r := rec(t0.Add(2*time.Hour), t0.Add(100*time.Hour))
		r.Family = fmt.Sprint("filler", i)
		r.Hash = sha256.Sum256([]byte(r.Family))
		require.NoError(t, s.Create(ctx, r))
	}
	_, err := s.Get(ctx, dead.Hash)
	require.ErrorIs(t, err, jwt.ErrNotFound, "a family past its absolute lifetime is forgotten")
	_, err = s.Get(ctx, alive.Hash)
	require.NoError(t, err)
}
