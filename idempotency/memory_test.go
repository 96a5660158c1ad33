package idempotency_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/idempotency"
	"github.com/keygate/keygate/idempotency/idempotencytest"
)

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryStore(t *testing.T) {
	idempotencytest.TestStore(t, func(*testing.T) idempotency.Store {
		return idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	})
}

func TestMemoryStoreExpiry(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: c.Now})
	fp := []byte("fp")

	_, ok, err := s.Reserve(ctx, "done", fp)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, s.Complete(ctx, "done", 201, []byte("{}")))
	_, ok, _ = s.Reserve(ctx, "stuck", fp) // never completed nor released
	require.True(t, ok)

	c.Advance(59 * time.Second)
	_, ok, _ = s.Reserve(ctx, "stuck", fp)
	assert.False(t, ok, "a reservation holds for the lock timeout")
	c.Advance(time.Second)
	_, ok, _ = s.Reserve(ctx, "stuck", fp)
	assert.True(t, ok, "a reservation lapses after the lock timeout")

	c.Advance(24*time.Hour - time.Minute - time.Second)
	e, ok, _ := s.Reserve(ctx, "done", fp)
	assert.False(t, ok)
	assert.True(t, e.Done, "kept for 24 hours")
	c.Advance(time.Second)
	_, ok, _ = s.Reserve(ctx, "done", fp)
	assert.True(t, ok, "forgotten after 24 hours")
}

func TestMemoryStoreBounded(t *testing.T) {
	ctx := context.Background()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 10})
	for i := range 1000 {
		key := fmt.Sprint(i)
		_, ok, err := s.Reserve(ctx, key, []byte("fp"))
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.Complete(ctx, key, 200, []byte("{}")))
		require.LessOrEqual(t, s.Len(), 10)
	}
	// The newest entries are kept.
	e, ok, err := s.Reserve(ctx, "999", []byte("fp"))
	require.NoError(t, err)
	assert.False(t, ok)
	assert.True(t, e.Done)

	// Full of calls in progress: refused rather than forgetting them.
	full := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxEntries: 3})
	for i := range 3 {
		_, ok, err := full.Reserve(ctx, fmt.Sprint(i), []byte("fp"))
		require.NoError(t, err)
		require.True(t, ok)
	}
	_, _, err = full.Reserve(ctx, "x", []byte("fp"))
	assert.ErrorIs(t, err, idempotency.ErrStoreFull)
}
