package httpsig

import (
	"context"
	"fmt"
	"hash/maphash"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNonceSweepAllAtMostEveryMillisecond: a refused Claim sweeps every
// shard at most once per millisecond of the store's clock; within it, a
// Claim whose room lies in another shard's expired entry is refused at
// once, and after it the sweep finds that room.
func TestNonceSweepAllAtMostEveryMillisecond(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	s := NewMemoryNonceStore(MemoryNonceConfig{MaxEntries: 1000, MaxPerKey: 2, Now: func() time.Time { return now }})
	shard := func(nonce string) uint64 {
		return maphash.Comparable(s.seeds[0], nonceID{"k", nonce}) % nonceShards
	}
	// short expires soon, in a shard other than the new nonce's.
	short := ""
	for i := 0; short == ""; i++ {
		if n := fmt.Sprintf("short-%d", i); shard(n) != shard("new") {
			short = n
		}
	}
	ok, err := s.Claim(ctx, "k", short, t0.Add(10*time.Microsecond))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.Claim(ctx, "k", "long", t0.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, ok)

	_, err = s.Claim(ctx, "k", "new", t0.Add(time.Hour)) // sweeps, frees nothing
	require.ErrorIs(t, err, ErrNonceQuota)
	now = t0.Add(20 * time.Microsecond) // short has expired
	_, err = s.Claim(ctx, "k", "new", t0.Add(time.Hour))
	require.ErrorIs(t, err, ErrNonceQuota, "within a millisecond of the last sweep: refused without one")
	now = t0.Add(time.Millisecond)
	ok, err = s.Claim(ctx, "k", "new", t0.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, ok, "a millisecond later the sweep frees the expired entry's room")
}

// TestNonceShrinkAfterBurst checks that memory follows the live entries
// after a burst: 200,000 nonces, then, once they have expired, a trickle
// of 5,000 new ones. The burst brings every shard past nonceShrinkMin;
// the trickle's sweeps rebuild every shard (only a rebuild lowers its
// peak, and a rebuild replaces the map, which Go never shrinks), and the
// queues and heaps left hold room for the live entries only.
func TestNonceShrinkAfterBurst(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := NewMemoryNonceStore(MemoryNonceConfig{MaxPerKey: 1 << 30, Now: func() time.Time { return now }})
	room := func() (peak, slots int) {
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			peak += sh.peak
			slots += cap(sh.queue) + cap(sh.heap)
			sh.mu.Unlock()
		}
		return peak, slots
	}
	const burst, trickle = 200_000, 5000
	for i := range burst {
		ok, err := s.Claim(ctx, "key_1", fmt.Sprintf("burst-%08d", i), now.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
	}
	for i := range s.shards {
		require.GreaterOrEqual(t, s.shards[i].peak, nonceShrinkMin, "shard %d: the burst must make it eligible for a rebuild", i)
	}
	peak, burstSlots := room()
	require.Equal(t, burst, peak)
	require.GreaterOrEqual(t, burstSlots, burst)

	now = now.Add(time.Hour)
	for i := range trickle {
		ok, err := s.Claim(ctx, "key_1", fmt.Sprintf("after-%08d", i), now.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.Equal(t, trickle, s.Len())
	peak, slots := room()
	t.Logf("queue and heap slots: %d after the burst, %d once it expired", burstSlots, slots)
	require.Equal(t, trickle, peak, "every shard rebuilt since the burst: peaks count the live entries only")
	require.Less(t, slots, burst/5, "queue and heap slots held once the burst expired")
}
