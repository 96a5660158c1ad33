package hmac

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
