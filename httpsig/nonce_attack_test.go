package httpsig_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/httpsig"
)

// TestAttackNonceConcurrentReplayUnderChurn claims a set of long-lived
// nonces from several goroutines at once, under two key IDs, while other
// goroutines fill every shard with short-lived nonces and move the clock,
// so that the shards' tables grow, are swept (backward-shift deletions
// around the contested entries) and rebuilt smaller as claims go on, and
// the store fills up now and then (the sweep of every shard, which
// unlocks the shard between two probes). Each contested nonce must be
// accepted exactly once per key ID: never twice (a replay let through),
// never not at all. Run it with -race.
func TestAttackNonceConcurrentReplayUnderChurn(t *testing.T) {
	ctx := context.Background()
	c := newNonceClock()
	s := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: 60_000, MaxPerKey: 1 << 30, Now: c.Now})
	const contested, claimers = 3000, 4
	keys := [2]string{"key_a", "key_b"}
	var wins [2][contested]atomic.Int32
	var churnDone atomic.Bool
	var wg sync.WaitGroup
	// Churn: short-lived nonces, twice as many as the store holds (the
	// store is full half the time), then the clock jumps past them.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer churnDone.Store(true)
		for round := range 6 {
			for i := range 120_000 {
				s.Claim(ctx, "key_churn", strconv.Itoa(round)+"."+strconv.Itoa(i), c.In(time.Second))
			}
			c.Advance(2 * time.Second)
		}
	}()
	for g := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pass := 0; ; pass++ {
				done := churnDone.Load()
				for i := range contested {
					n := (i + g*contested/claimers) % contested
					for ki, k := range keys {
						ok, err := s.Claim(ctx, k, "n"+strconv.Itoa(n), c.In(time.Hour))
						if err != nil {
							continue // the store full: nothing recorded, tried again next pass
						}
						if ok {
							wins[ki][n].Add(1)
						}
					}
				}
				if done {
					return
				}
			}
		}()
	}
	wg.Wait()
	for ki := range keys {
		for n := range contested {
			if w := wins[ki][n].Load(); w != 1 {
				t.Fatalf("nonce n%d of %s accepted %d times", n, keys[ki], w)
			}
		}
	}
}
