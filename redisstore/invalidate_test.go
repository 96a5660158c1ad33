package redisstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// TestInvalidationsAcrossInstances plays two instances, A and B, whose
// API-key caches (TTL one minute) sit in front of one shared store, joined
// by Invalidations on the test Redis: once B's subscription has dropped a
// key revoked on A, B refuses it, long before its cache entry expires.
func TestInvalidationsAcrossInstances(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	shared := apikey.NewMemoryStore()
	type instance struct {
		keys    *apikey.Manager
		dropped *droppedIDs
	}
	newInstance := func() *instance {
		cache := apikey.NewCachedStore(shared, apikey.CacheConfig{TTL: time.Minute})
		dropped := newDroppedIDs(cache)
		keys, err := apikey.NewManager(apikey.Config{Store: cache, OnChange: subscribeCache(t, cfg, dropped)})
		require.NoError(t, err)
		return &instance{keys: keys, dropped: dropped}
	}
	a, b := newInstance(), newInstance()

	const rounds = 20
	for range rounds {
		key, rec, err := a.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
		require.NoError(t, err)
		_, err = b.keys.Verify(ctx, key.Reveal()) // now cached on B for a minute
		require.NoError(t, err)

		b.dropped.reset()
		_, err = a.keys.Revoke(ctx, rec.ID)
		require.NoError(t, err)
		b.dropped.wait(t, rec.ID)
		_, err = b.keys.Verify(ctx, key.Reveal())
		require.ErrorIs(t, err, apikey.ErrRevoked, "B accepts a key revoked on A once the broadcast arrived")
	}
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

// droppedIDs passes a subscription's invalidations on to a cache and
// records what the cache has dropped, so that a test knows when a
// broadcast has arrived rather than polling for its effect.
type droppedIDs struct {
	cache invalidatedCache
	ids   chan string // "" for everything
}

func newDroppedIDs(cache invalidatedCache) *droppedIDs {
	return &droppedIDs{cache: cache, ids: make(chan string, 1024)}
}

// Invalidate drops id from the cache, then records it.
func (d *droppedIDs) Invalidate(id string) {
	d.cache.Invalidate(id)
	d.ids <- id
}

// InvalidateAll drops everything from the cache, then records it.
func (d *droppedIDs) InvalidateAll() {
	d.cache.InvalidateAll()
	d.ids <- ""
}

// reset forgets what was dropped so far.
func (d *droppedIDs) reset() {
	for {
		select {
		case <-d.ids:
		default:
			return
		}
	}
}

// wait returns once the cache has dropped id (or everything) since the
// last reset. It fails the test if that takes 10 s: the broadcast was lost.
func (d *droppedIDs) wait(t *testing.T, id string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-d.ids:
			if got == id || got == "" {
				return
			}
		case <-timeout:
			t.Fatalf("the cache did not drop %q within 10 s: the broadcast did not arrive", id)
		}
	}
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
