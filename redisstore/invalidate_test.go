package redisstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// TestInvalidationsAcrossInstances plays two instances, A and B, whose
// API-key caches (TTL one minute) sit in front of one shared store, joined
// by Invalidations on the test Redis: a key revoked on A must be refused
// by B long before B's cache entry expires. It logs the worst time from
// the revocation on A to the first refusal on B.
func TestInvalidationsAcrossInstances(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	shared := apikey.NewMemoryStore()
	type instance struct{ keys *apikey.Manager }
	newInstance := func() *instance {
		cache := apikey.NewCachedStore(shared, apikey.CacheConfig{TTL: time.Minute})
		keys, err := apikey.NewManager(apikey.Config{Store: cache, OnChange: subscribeCache(t, cfg, cache)})
		require.NoError(t, err)
		return &instance{keys: keys}
	}
	a, b := newInstance(), newInstance()

	const rounds = 20
	var worst time.Duration
	for range rounds {
		key, rec, err := a.keys.Create(ctx, apikey.CreateParams{Account: "acct_1", Mode: keygate.ModeTest, Kind: keygate.KindSecret})
		require.NoError(t, err)
		_, err = b.keys.Verify(ctx, key.Reveal()) // now cached on B for a minute
		require.NoError(t, err)

		start := time.Now()
		_, err = a.keys.Revoke(ctx, rec.ID)
		require.NoError(t, err)
		refused := false
		for time.Since(start) < 10*time.Second {
			if _, err := b.keys.Verify(ctx, key.Reveal()); err != nil {
				require.ErrorIs(t, err, apikey.ErrRevoked)
				refused = true
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		require.True(t, refused, "B still accepts a key revoked on A 10 s later (its cache TTL is a minute: the broadcast did not arrive)")
		worst = max(worst, time.Since(start))
	}
	t.Logf("revocation on A refused by B after at most %v (%d rounds, cache TTL 1 min)", worst, rounds)
	assert.Less(t, worst, 10*time.Second)
}

// TestInvalidationsPublishEdges: a change that names no credential is not
// published, and a Config without a client is refused.
func TestInvalidationsPublishEdges(t *testing.T) {
	cfg := testConfig(t)
	inv, err := NewInvalidations(cfg)
	require.NoError(t, err)
	inv.Publish(context.Background(), keygate.Change{Action: keygate.ActionSubjectRevoked, Subject: "s"})

	_, err = NewInvalidations(Config{})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestInvalidationsResubscribe: when the subscription's connection is
// lost (killed here with CLIENT KILL), Run subscribes again and reports ""
// (drop everything), since what was published meanwhile is lost.
func TestInvalidationsResubscribe(t *testing.T) {
	cfg := testConfig(t)
	inv, err := NewInvalidations(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	resets := make(chan struct{}, 10)
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = inv.Run(ctx, func(id string) {
			if id == "" {
				resets <- struct{}{}
			}
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitReset := func(what string) {
		t.Helper()
		select {
		case <-resets:
		case <-time.After(10 * time.Second):
			t.Fatalf("no reset %s within 10 s", what)
		}
	}
	waitReset("on the first subscription")
	require.NoError(t, cfg.Client.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err())
	waitReset("after the connection was killed")
}

// invalidatedCache is what a test instance's cache offers the broadcast.
type invalidatedCache interface {
	Invalidate(id string)
	InvalidateAll()
}

// subscribeCache plays one instance's side of Invalidations: it runs a
// subscription that drops cache's copies of the IDs other instances
// publish, waits until it is subscribed, and returns the ChangeFunc that
// publishes this instance's changes. The subscription ends with the test.
func subscribeCache(t *testing.T, cfg Config, cache invalidatedCache) keygate.ChangeFunc {
	t.Helper()
	inv, err := NewInvalidations(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	ready := make(chan struct{})
	var once sync.Once
	wg.Go(func() {
		_ = inv.Run(ctx, func(id string) {
			if id == "" {
				cache.InvalidateAll()
				once.Do(func() { close(ready) })
				return
			}
			cache.Invalidate(id)
		})
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription within 10 s")
	}
	return inv.Publish
}
