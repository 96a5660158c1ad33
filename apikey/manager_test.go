package apikey_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/apikey/apikeytest"
)

func TestMemoryStoreConformance(t *testing.T) {
	apikeytest.TestStore(t, func(*testing.T) apikey.Store { return apikey.NewMemoryStore() })
}

// clock is a settable clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newManager(t *testing.T, cfg apikey.Config) (*apikey.Manager, *clock) {
	t.Helper()
	c := newClock()
	if cfg.Now == nil {
		cfg.Now = c.Now
	}
	m, err := apikey.NewManager(cfg)
	require.NoError(t, err)
	// Waits for a background flush of last-used times; the test is over,
	// so a store it made fail may refuse the final write.
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m, c
}

var params = apikey.CreateParams{
	Grant: keygate.Grant{
		Account:     "acct_1",
		Mode:        keygate.ModeTest,
		Stores:      []string{"store_1"},
		Package:     "GO",
		Permissions: []string{"products:read"},
		AllowedIPs:  []string{"192.0.2.0/24"},
	},
	Kind: keygate.KindSecret,
	Name: "till 4",
}

func TestCreateAndVerify(t *testing.T) {
	for _, pepper := range [][]byte{nil, []byte(strings.Repeat("p", 32))} {
		t.Run(fmt.Sprintf("pepper=%v", pepper != nil), func(t *testing.T) {
			store := apikey.NewMemoryStore()
			m, c := newManager(t, apikey.Config{Store: store, Pepper: pepper})
			ctx := context.Background()
			key, rec, err := m.Create(ctx, params)
			require.NoError(t, err)
			assert.Equal(t, key.ID(), rec.ID)
			assert.Equal(t, apikey.StatusActive, rec.Status)
			assert.Equal(t, c.Now(), rec.Created)
			assert.Len(t, rec.Hashes, 1)

			got, err := m.Verify(ctx, key.Reveal())
			require.NoError(t, err)
			assert.Equal(t, rec.ID, got.ID)
			assert.Equal(t, "acct_1", got.Account)
			assert.Equal(t, keygate.ModeTest, got.Mode)
			assert.Equal(t, keygate.KindSecret, got.Kind)
			assert.Equal(t, []string{"store_1"}, got.Stores)

			// The store holds only the hash, never the plaintext.
			stored, err := store.Get(ctx, rec.ID)
			require.NoError(t, err)
			assert.NotContains(t, fmt.Sprintf("%+v", stored), key.Reveal()[len(key.Reveal())-30:])
		})
	}
}

func TestPepperChangesTheHash(t *testing.T) {
	store := apikey.NewMemoryStore()
	plain, _ := newManager(t, apikey.Config{Store: store})
	peppered, _ := newManager(t, apikey.Config{Store: store, Pepper: []byte(strings.Repeat("p", 32))})
	key, _, err := plain.Create(context.Background(), params)
	require.NoError(t, err)
	_, err = peppered.Verify(context.Background(), key.Reveal())
	assert.ErrorIs(t, err, apikey.ErrUnknownKey)
}

func TestNewManagerRefusesBadConfig(t *testing.T) {
	for _, cfg := range []apikey.Config{
		{Prefix: "BK"}, {Prefix: "b_k"}, {Prefix: "abcdefghijklm"}, {Pepper: []byte("short")},
	} {
		_, err := apikey.NewManager(cfg)
		assert.ErrorIs(t, err, apikey.ErrInvalidParams, "%+v", cfg)
	}
}

func TestCreateRefusesBadParams(t *testing.T) {
	m, c := newManager(t, apikey.Config{})
	mutate := map[string]func(*apikey.CreateParams){
		"no account":         func(p *apikey.CreateParams) { p.Account = "" },
		"account with space": func(p *apikey.CreateParams) { p.Account = "acct 1" },
		"long account":       func(p *apikey.CreateParams) { p.Account = strings.Repeat("a", 129) },
		"bad mode":           func(p *apikey.CreateParams) { p.Mode = "prod" },
		"bad kind":           func(p *apikey.CreateParams) { p.Kind = "rk" },
		"name with newline":  func(p *apikey.CreateParams) { p.Name = "a\nb" },
		"long name":          func(p *apikey.CreateParams) { p.Name = strings.Repeat("n", 201) },
		"invalid UTF-8 name": func(p *apikey.CreateParams) { p.Name = "\xff" },
		"bad store":          func(p *apikey.CreateParams) { p.Stores = []string{"store/1"} },
		"empty permission":   func(p *apikey.CreateParams) { p.Permissions = []string{""} },
		"bad allowed IP":     func(p *apikey.CreateParams) { p.AllowedIPs = []string{"10.0.0.300"} },
		"expiry in the past": func(p *apikey.CreateParams) { p.Expires = c.Now().Add(-time.Second) },
	}
	for name, f := range mutate {
		t.Run(name, func(t *testing.T) {
			p := params
			f(&p)
			_, _, err := m.Create(context.Background(), p)
			assert.ErrorIs(t, err, apikey.ErrInvalidParams)
		})
	}
}

func TestCreatePair(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	ctx := context.Background()
	pk, sk, err := m.CreatePair(ctx, params)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(pk.Reveal(), "bk_test_pk_"))
	assert.True(t, strings.HasPrefix(sk.Reveal(), "bk_test_sk_"))
	assert.NotEqual(t, pk.ID(), sk.ID())
	for _, k := range []apikey.Key{pk, sk} {
		_, err := m.Verify(ctx, k.Reveal())
		assert.NoError(t, err)
	}
	recs, err := m.List(ctx, apikey.ListFilter{Account: "acct_1", Mode: keygate.ModeTest})
	require.NoError(t, err)
	assert.Len(t, recs, 2)
}

func TestVerifyRejectsForeignAndAlteredKeys(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	other, _ := newManager(t, apikey.Config{Prefix: "zz"})
	ctx := context.Background()
	key, _, err := m.Create(ctx, params)
	require.NoError(t, err)
	foreign, _, err := other.Create(ctx, params)
	require.NoError(t, err)
	stranger, _ := newManager(t, apikey.Config{})
	unknown, _, err := stranger.Create(ctx, params)
	require.NoError(t, err)

	_, err = m.Verify(ctx, foreign.Reveal())
	assert.ErrorIs(t, err, apikey.ErrMalformed, "another prefix")
	_, err = m.Verify(ctx, unknown.Reveal())
	assert.ErrorIs(t, err, apikey.ErrUnknownKey, "an unknown ID")
	s := key.Reveal()
	last := "0"
	if s[len(s)-1] == '0' {
		last = "1"
	}
	_, err = m.Verify(ctx, s[:len(s)-1]+last)
	assert.ErrorIs(t, err, apikey.ErrMalformed, "last character changed")
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	type step struct {
		do   func(*testing.T, *apikey.Manager, *clock, string) // id
		want error                                             // of Verify with the original key
	}
	tests := []struct {
		name  string
		mode  keygate.Mode
		steps []step
	}{
		{"test key is active at once", keygate.ModeTest, []step{{nil, nil}}},
		{"live key waits for review", keygate.ModeLive, []step{
			{nil, apikey.ErrPendingReview},
			{approve, nil},
		}},
		{"revoke is immediate and final", keygate.ModeTest, []step{
			{revoke, apikey.ErrRevoked},
			{func(t *testing.T, m *apikey.Manager, _ *clock, id string) {
				_, err := m.Enable(ctx, id)
				assert.ErrorIs(t, err, apikey.ErrInvalidState)
				_, _, err = m.Rotate(ctx, id, 0)
				assert.ErrorIs(t, err, apikey.ErrRevoked)
			}, apikey.ErrRevoked},
		}},
		{"disable and enable", keygate.ModeTest, []step{
			{disable, apikey.ErrDisabled},
			{enable, nil},
		}},
		{"disabled pending key stays pending when enabled", keygate.ModeLive, []step{
			{disable, apikey.ErrDisabled},
			{enable, apikey.ErrPendingReview},
			{approve, nil},
		}},
		{"expiry", keygate.ModeTest, []step{
			{func(t *testing.T, m *apikey.Manager, c *clock, id string) {
				at := c.Now().Add(time.Hour)
				_, err := m.Update(ctx, id, apikey.Changes{Expires: &at})
				require.NoError(t, err)
			}, nil},
			{func(_ *testing.T, _ *apikey.Manager, c *clock, _ string) { c.Advance(time.Hour - time.Nanosecond) }, nil},
			{func(_ *testing.T, _ *apikey.Manager, c *clock, _ string) { c.Advance(time.Nanosecond) }, apikey.ErrExpired},
		}},
		{"revoked beats expired", keygate.ModeTest, []step{
			{func(t *testing.T, m *apikey.Manager, c *clock, id string) {
				at := c.Now().Add(time.Minute)
				_, err := m.Update(ctx, id, apikey.Changes{Expires: &at})
				require.NoError(t, err)
				c.Advance(time.Hour)
			}, apikey.ErrExpired},
			{revoke, apikey.ErrRevoked},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c := newManager(t, apikey.Config{})
			p := params
			p.Mode = tt.mode
			key, _, err := m.Create(ctx, p)
			require.NoError(t, err)
			for i, s := range tt.steps {
				if s.do != nil {
					s.do(t, m, c, key.ID())
				}
				_, err := m.Verify(ctx, key.Reveal())
				if s.want == nil {
					assert.NoError(t, err, "step %d", i)
				} else {
					assert.ErrorIs(t, err, s.want, "step %d", i)
				}
			}
		})
	}
}

func approve(t *testing.T, m *apikey.Manager, c *clock, id string) {
	rec, err := m.Approve(context.Background(), id, "alice@example.com")
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", rec.ApprovedBy)
	assert.Equal(t, c.Now(), rec.ApprovedAt)
	_, err = m.Approve(context.Background(), id, "mallory")
	assert.ErrorIs(t, err, apikey.ErrInvalidState, "approving twice")
}

func revoke(t *testing.T, m *apikey.Manager, c *clock, id string) {
	rec, err := m.Revoke(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, apikey.StatusRevoked, rec.Status)
	assert.Equal(t, c.Now(), rec.RevokedAt)
}

func disable(t *testing.T, m *apikey.Manager, _ *clock, id string) {
	rec, err := m.Disable(context.Background(), id)
	require.NoError(t, err)
	assert.True(t, rec.Disabled)
}

func enable(t *testing.T, m *apikey.Manager, _ *clock, id string) {
	rec, err := m.Enable(context.Background(), id)
	require.NoError(t, err)
	assert.False(t, rec.Disabled)
}

func TestApproveOnlyPending(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	key, _, err := m.Create(context.Background(), params) // test mode: active
	require.NoError(t, err)
	_, err = m.Approve(context.Background(), key.ID(), "alice")
	assert.ErrorIs(t, err, apikey.ErrInvalidState)
	_, err = m.Approve(context.Background(), key.ID(), "")
	assert.ErrorIs(t, err, apikey.ErrInvalidParams)
	_, err = m.Approve(context.Background(), "nosuchkey0000000", "alice")
	assert.ErrorIs(t, err, apikey.ErrNotFound)
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	t.Run("without grace the old secret stops at once", func(t *testing.T) {
		m, _ := newManager(t, apikey.Config{})
		old, _, err := m.Create(ctx, params)
		require.NoError(t, err)
		fresh, rec, err := m.Rotate(ctx, old.ID(), 0)
		require.NoError(t, err)
		assert.Equal(t, old.ID(), fresh.ID(), "rotation keeps the key ID")
		assert.NotEqual(t, old.Reveal(), fresh.Reveal())
		assert.Len(t, rec.Hashes, 1)
		_, err = m.Verify(ctx, old.Reveal())
		assert.ErrorIs(t, err, apikey.ErrUnknownKey)
		_, err = m.Verify(ctx, fresh.Reveal())
		assert.NoError(t, err)
	})
	t.Run("with grace both work until the grace ends", func(t *testing.T) {
		m, c := newManager(t, apikey.Config{})
		old, _, err := m.Create(ctx, params)
		require.NoError(t, err)
		fresh, rec, err := m.Rotate(ctx, old.ID(), time.Hour)
		require.NoError(t, err)
		assert.Len(t, rec.Hashes, 2)
		c.Advance(time.Hour - time.Second)
		for _, k := range []apikey.Key{old, fresh} {
			_, err := m.Verify(ctx, k.Reveal())
			assert.NoError(t, err)
		}
		c.Advance(time.Second)
		_, err = m.Verify(ctx, old.Reveal())
		assert.ErrorIs(t, err, apikey.ErrUnknownKey)
		_, err = m.Verify(ctx, fresh.Reveal())
		assert.NoError(t, err)
	})
	t.Run("overlapping graces keep their own ends", func(t *testing.T) {
		m, c := newManager(t, apikey.Config{})
		k1, _, err := m.Create(ctx, params)
		require.NoError(t, err)
		k2, _, err := m.Rotate(ctx, k1.ID(), time.Hour)
		require.NoError(t, err)
		c.Advance(30 * time.Minute)
		k3, _, err := m.Rotate(ctx, k1.ID(), time.Hour)
		require.NoError(t, err)
		c.Advance(31 * time.Minute) // k1's grace is over, k2's is not
		_, err = m.Verify(ctx, k1.Reveal())
		assert.ErrorIs(t, err, apikey.ErrUnknownKey)
		for _, k := range []apikey.Key{k2, k3} {
			_, err := m.Verify(ctx, k.Reveal())
			assert.NoError(t, err)
		}
		k4, rec, err := m.Rotate(ctx, k1.ID(), 0)
		require.NoError(t, err)
		assert.Len(t, rec.Hashes, 2, "k4 and k2 (still in grace); k3 dropped without grace")
		_, err = m.Verify(ctx, k3.Reveal())
		assert.ErrorIs(t, err, apikey.ErrUnknownKey)
		_, err = m.Verify(ctx, k4.Reveal())
		assert.NoError(t, err)
	})
	t.Run("a pending key rotates and stays pending", func(t *testing.T) {
		m, _ := newManager(t, apikey.Config{})
		p := params
		p.Mode = keygate.ModeLive
		k, _, err := m.Create(ctx, p)
		require.NoError(t, err)
		k2, rec, err := m.Rotate(ctx, k.ID(), 0)
		require.NoError(t, err)
		assert.Equal(t, apikey.StatusPendingReview, rec.Status)
		assert.True(t, strings.HasPrefix(k2.Reveal(), "bk_live_sk_"))
	})
	t.Run("negative grace", func(t *testing.T) {
		m, _ := newManager(t, apikey.Config{})
		k, _, err := m.Create(ctx, params)
		require.NoError(t, err)
		_, _, err = m.Rotate(ctx, k.ID(), -time.Second)
		assert.ErrorIs(t, err, apikey.ErrInvalidParams)
	})
}

func TestUpdateMetadata(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	ctx := context.Background()
	k, _, err := m.Create(ctx, params)
	require.NoError(t, err)
	stores := []string{"store_7", "store_8"}
	name := "renamed"
	rec, err := m.Update(ctx, k.ID(), apikey.Changes{Stores: &stores, Name: &name})
	require.NoError(t, err)
	assert.Equal(t, stores, rec.Stores)
	assert.Equal(t, "renamed", rec.Name)
	assert.Equal(t, "GO", rec.Package, "untouched fields stay")
	stores[0] = "mutated"
	got, err := m.Get(ctx, k.ID())
	require.NoError(t, err)
	assert.Equal(t, "store_7", got.Stores[0], "the manager copies what it is given")
	bad := []string{"bad store"}
	_, err = m.Update(ctx, k.ID(), apikey.Changes{Stores: &bad})
	assert.ErrorIs(t, err, apikey.ErrInvalidParams)
}

func TestLastUsedIsBatched(t *testing.T) { synctest.Test(t, testLastUsedIsBatched) }

func testLastUsedIsBatched(t *testing.T) {
	store := apikey.NewMemoryStore()
	m, c := newManager(t, apikey.Config{Store: store, LastUsedInterval: time.Hour})
	ctx := context.Background()
	k, _, err := m.Create(ctx, params)
	require.NoError(t, err)
	lastUsed := func() time.Time {
		t.Helper()
		rec, err := store.Get(ctx, k.ID())
		require.NoError(t, err)
		return rec.LastUsed
	}
	_, err = m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	used := c.Now()
	synctest.Wait()
	assert.True(t, lastUsed().IsZero(), "the request path does not write to the store")
	require.NoError(t, m.FlushUsage(ctx))
	assert.Equal(t, used, lastUsed())

	// After the interval, a verification starts a background flush.
	for range 2 {
		c.Advance(2 * time.Hour)
		_, err = m.Verify(ctx, k.Reveal())
		require.NoError(t, err)
		synctest.Wait() // the background flush has run
		assert.Equal(t, c.Now(), lastUsed(), "written by the flush the verification started")
	}
	// Within the interval, no flush.
	c.Advance(30 * time.Minute)
	_, err = m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	synctest.Wait()
	assert.Equal(t, c.Now().Add(-30*time.Minute), lastUsed(), "flushed again within the interval")
}

// TestLastUsedSharedStore: two Managers over one MemoryStore each write
// the last-used times of their own verifications (the record caches the
// usage slot of one of them only), also after the record was replaced by
// an update and by a last-used write.
func TestLastUsedSharedStore(t *testing.T) {
	store := apikey.NewMemoryStore()
	// An interval longer than the whole test's clock moves: only the
	// explicit flushes below write (with an hour, the rounds' advances
	// started background flushes, which raced them).
	m1, c1 := newManager(t, apikey.Config{Store: store, LastUsedInterval: 100 * time.Hour})
	m2, c2 := newManager(t, apikey.Config{Store: store, LastUsedInterval: 100 * time.Hour})
	ctx := context.Background()
	k, _, err := m1.Create(ctx, params)
	require.NoError(t, err)
	lastUsed := func() time.Time {
		t.Helper()
		rec, err := store.Get(ctx, k.ID())
		require.NoError(t, err)
		return rec.LastUsed
	}
	name := "renamed"
	c2.Advance(time.Hour) // the second Manager's times come after the first's
	for i := range 3 {
		c1.Advance(3 * time.Hour)
		c2.Advance(3 * time.Hour)
		_, err = m1.Verify(ctx, k.Reveal())
		require.NoError(t, err)
		_, err = m2.Verify(ctx, k.Reveal())
		require.NoError(t, err)
		require.NoError(t, m1.FlushUsage(ctx))
		assert.Equal(t, c1.Now(), lastUsed(), "round %d: the first Manager's time", i)
		require.NoError(t, m2.FlushUsage(ctx))
		assert.Equal(t, c2.Now(), lastUsed(), "round %d: the second Manager's time", i)
		// The record is replaced: by the flushes above and by an update.
		_, err = m1.Update(ctx, k.ID(), apikey.Changes{Name: &name})
		require.NoError(t, err)
	}
}

// failingStore wraps a store and fails Get on demand: a fault a real
// memory store cannot produce.
type failingStore struct {
	apikey.Store
	fail atomic.Bool
}

var errStoreDown = errors.New("store unreachable")

func (s *failingStore) Get(ctx context.Context, id string) (apikey.Record, error) {
	if s.fail.Load() {
		return apikey.Record{}, errStoreDown
	}
	return s.Store.Get(ctx, id)
}

func TestVerifyFailsClosedWhenTheStoreFails(t *testing.T) {
	store := &failingStore{Store: apikey.NewMemoryStore()}
	m, _ := newManager(t, apikey.Config{Store: store})
	k, _, err := m.Create(context.Background(), params)
	require.NoError(t, err)
	store.fail.Store(true)
	_, err = m.Verify(context.Background(), k.Reveal())
	require.ErrorIs(t, err, errStoreDown)
	for _, sentinel := range []error{apikey.ErrUnknownKey, apikey.ErrNotFound, apikey.ErrMalformed} {
		assert.NotErrorIs(t, err, sentinel)
	}
}

// TestConcurrentCreateVerifyRevoke runs minting, verification and
// revocation at once (run with -race). Once Revoke has returned, no
// verification that starts afterwards may succeed.
func TestConcurrentCreateVerifyRevoke(t *testing.T) {
	// The real clock, so that background flushes run beside everything else.
	m, err := apikey.NewManager(apikey.Config{LastUsedInterval: time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()
	const workers = 8
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				k, _, err := m.Create(ctx, params)
				if !assert.NoError(t, err) {
					return
				}
				var verifiers sync.WaitGroup
				for v := 0; v < 2; v++ {
					verifiers.Add(1)
					go func() {
						defer verifiers.Done()
						for j := 0; j < 5; j++ {
							if _, err := m.Verify(ctx, k.Reveal()); err != nil && !errors.Is(err, apikey.ErrRevoked) {
								t.Errorf("Verify: %v", err)
							}
						}
					}()
				}
				_, err = m.Revoke(ctx, k.ID())
				assert.NoError(t, err)
				_, err = m.Verify(ctx, k.Reveal())
				assert.ErrorIs(t, err, apikey.ErrRevoked, "a verification after Revoke returned")
				verifiers.Wait()
			}
		}()
	}
	wg.Wait()
	require.NoError(t, m.Close(ctx))
}

// TestTokenCutOff: rotating without grace, disabling and revoking set the
// token cut-off, so that the tokens the key obtained go with the old
// secret; a rotation with grace and Enable leave it as it was. CutOff
// compares whole seconds, the iat's resolution: a token of the cut-off's
// second is cut off.
func TestTokenCutOff(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, apikey.Config{})
	_, rec, err := m.Create(ctx, params)
	require.NoError(t, err)
	assert.True(t, rec.TokensNotBefore.IsZero(), "a new key has no cut-off")
	assert.False(t, rec.CutOff(c.Now()))

	c.Advance(time.Minute)
	_, rec, err = m.Rotate(ctx, rec.ID, time.Hour)
	require.NoError(t, err)
	assert.True(t, rec.TokensNotBefore.IsZero(), "a rotation with grace keeps the tokens")

	c.Advance(time.Minute)
	rotated := c.Now()
	_, rec, err = m.Rotate(ctx, rec.ID, 0)
	require.NoError(t, err)
	assert.True(t, rec.TokensNotBefore.Equal(rotated), "a rotation without grace sets the cut-off")
	assert.True(t, rec.CutOff(rotated.Add(-time.Second)))
	assert.True(t, rec.CutOff(rotated.Add(999*time.Millisecond)), "the cut-off's second is cut off")
	assert.False(t, rec.CutOff(rotated.Add(time.Second)))

	c.Advance(time.Minute)
	disabled := c.Now()
	rec, err = m.Disable(ctx, rec.ID)
	require.NoError(t, err)
	assert.True(t, rec.TokensNotBefore.Equal(disabled), "Disable sets the cut-off")
	c.Advance(time.Minute)
	rec, err = m.Enable(ctx, rec.ID)
	require.NoError(t, err)
	assert.True(t, rec.TokensNotBefore.Equal(disabled), "Enable keeps it: old tokens stay refused")

	c.Advance(time.Minute)
	revoked := c.Now()
	rec, err = m.Revoke(ctx, rec.ID)
	require.NoError(t, err)
	assert.True(t, rec.TokensNotBefore.Equal(revoked), "Revoke sets the cut-off")
	got, err := m.Get(ctx, rec.ID)
	require.NoError(t, err)
	assert.True(t, got.TokensNotBefore.Equal(revoked), "the store keeps it")
	looked, err := m.Lookup(ctx, rec.ID)
	require.NoError(t, err)
	assert.Equal(t, got.Status, looked.Status)
	assert.True(t, looked.TokensNotBefore.Equal(revoked), "Lookup reads the same record")
	_, err = m.Lookup(ctx, "unknown")
	assert.ErrorIs(t, err, apikey.ErrNotFound)
	var into apikey.Record
	require.NoError(t, m.LookupInto(ctx, rec.ID, &into))
	assert.Equal(t, looked, into, "LookupInto reads what Lookup returns")
	assert.ErrorIs(t, m.LookupInto(ctx, "unknown", &into), apikey.ErrNotFound)
}

// TestExpiredKeyRevivedWithoutItsTokens: a new expiry for a key that has
// expired revives the key, not the tokens it obtained before.
func TestExpiredKeyRevivedWithoutItsTokens(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, apikey.Config{})
	p := params
	p.Expires = c.Now().Add(time.Hour)
	_, rec, err := m.Create(ctx, p)
	require.NoError(t, err)
	issued := c.Now()

	later := c.Now().Add(2 * time.Hour)
	rec, err = m.Update(ctx, rec.ID, apikey.Changes{Expires: &later})
	require.NoError(t, err)
	assert.True(t, rec.TokensNotBefore.IsZero(), "extending a live key's expiry keeps its tokens")

	c.Advance(3 * time.Hour) // expired
	require.ErrorIs(t, rec.Usable(c.Now()), apikey.ErrExpired)
	never := time.Time{}
	rec, err = m.Update(ctx, rec.ID, apikey.Changes{Expires: &never})
	require.NoError(t, err)
	require.NoError(t, rec.Usable(c.Now()), "the key lives again")
	assert.True(t, rec.CutOff(issued), "its old tokens do not")
	assert.False(t, rec.CutOff(c.Now().Add(time.Second)), "new ones do")
}
