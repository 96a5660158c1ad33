package apikey_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/apikey"
)

// touchGate wraps a store and, while shut, holds every Touch until it is
// opened or the call's context ends.
type touchGate struct {
	apikey.Store
	shut    atomic.Bool
	open    chan struct{}
	touches atomic.Int32
}

func newTouchGate() *touchGate {
	return &touchGate{Store: apikey.NewMemoryStore(), open: make(chan struct{})}
}

func (g *touchGate) Touch(ctx context.Context, id string, t time.Time) error {
	g.touches.Add(1)
	if g.shut.Load() {
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Store.Touch(ctx, id, t)
}

func lastUsed(t *testing.T, s apikey.Store, id string) time.Time {
	t.Helper()
	rec, err := s.Get(context.Background(), id)
	require.NoError(t, err)
	return rec.LastUsed
}

func TestCloseFlushesLastUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := apikey.NewMemoryStore()
		m, c := newManager(t, apikey.Config{Store: store, LastUsedInterval: time.Hour})
		ctx := context.Background()
		k, _, err := m.Create(ctx, params)
		require.NoError(t, err)
		_, err = m.Verify(ctx, k.Reveal())
		require.NoError(t, err)
		used := c.Now()
		require.True(t, lastUsed(t, store, k.ID()).IsZero())

		require.NoError(t, m.Close(ctx))
		assert.Equal(t, used, lastUsed(t, store, k.ID()), "Close writes the pending last-used time")

		// After Close the Manager still works; what it notes is written by
		// the next FlushUsage or Close.
		c.Advance(2 * time.Hour)
		_, err = m.Verify(ctx, k.Reveal())
		require.NoError(t, err)
		c.Advance(2 * time.Hour)
		_, err = m.Verify(ctx, k.Reveal())
		require.NoError(t, err)
		synctest.Wait()
		assert.Equal(t, used, lastUsed(t, store, k.ID()), "no background flush after Close")
		require.NoError(t, m.Close(ctx), "Close again")
		assert.Equal(t, c.Now(), lastUsed(t, store, k.ID()))
	})
}

// startBackgroundFlush verifies k twice, an interval apart, so that the
// second verification starts a background flush.
func startBackgroundFlush(t *testing.T, m *apikey.Manager, c *clock, k apikey.Key) {
	t.Helper()
	ctx := context.Background()
	_, err := m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	c.Advance(2 * time.Minute)
	_, err = m.Verify(ctx, k.Reveal())
	require.NoError(t, err)
	synctest.Wait()
}

func TestCloseWaitsForABackgroundFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTouchGate()
		m, c := newManager(t, apikey.Config{Store: store, LastUsedInterval: time.Minute})
		ctx := context.Background()
		k, _, err := m.Create(ctx, params)
		require.NoError(t, err)
		store.shut.Store(true)
		startBackgroundFlush(t, m, c, k)
		require.EqualValues(t, 1, store.touches.Load(), "a background flush is under way")

		closed := make(chan error, 1)
		go func() { closed <- m.Close(ctx) }()
		synctest.Wait()
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while a background flush was under way", err)
		default:
		}

		close(store.open)
		synctest.Wait()
		select {
		case err := <-closed:
			require.NoError(t, err)
		default:
			t.Fatal("Close did not return once the background flush ended")
		}
		assert.Equal(t, c.Now(), lastUsed(t, store, k.ID()))

		// Closed: a verification an interval later starts no flush.
		c.Advance(2 * time.Minute)
		_, err = m.Verify(ctx, k.Reveal())
		require.NoError(t, err)
		synctest.Wait()
		assert.EqualValues(t, 1, store.touches.Load(), "no store write after Close")
	})
}

func TestCloseCancelsABackgroundFlushWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTouchGate()
		m, c := newManager(t, apikey.Config{Store: store, LastUsedInterval: time.Minute})
		k, _, err := m.Create(context.Background(), params)
		require.NoError(t, err)
		store.shut.Store(true)
		startBackgroundFlush(t, m, c, k)

		ctx, cancel := context.WithCancel(context.Background())
		closed := make(chan error, 1)
		go func() { closed <- m.Close(ctx) }()
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case err := <-closed:
			require.ErrorIs(t, err, context.Canceled, "the pending time could not be written")
		default:
			t.Fatal("Close did not return once its context ended")
		}
		assert.True(t, lastUsed(t, store, k.ID()).IsZero())

		// The time was kept: a later Close writes it.
		store.shut.Store(false)
		require.NoError(t, m.Close(context.Background()))
		assert.Equal(t, c.Now(), lastUsed(t, store, k.ID()))
	})
}
