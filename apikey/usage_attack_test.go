package apikey_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/apikey"
)

// TestLastUsedConcurrent: Managers sharing one MemoryStore verify keys
// while another Manager updates their records and flushes run in the
// foreground and background; once every Manager is closed, each key's
// last-used time is the latest of its verifications, whichever Manager
// made it and however often the record was replaced meanwhile (the
// record caches the usage slot of one Manager only, which must not take
// the others' times). Run it with -race.
func TestLastUsedConcurrent(t *testing.T) {
	store := apikey.NewMemoryStore()
	ctx := context.Background()
	admin, _ := newManager(t, apikey.Config{Store: store})
	const nKeys, nManagers, rounds = 4, 3, 200
	keys := make([]apikey.Key, nKeys)
	for i := range keys {
		k, _, err := admin.Create(ctx, params)
		require.NoError(t, err)
		keys[i] = k
	}
	base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	var tick atomic.Int64 // every verification's time is unique and 2 s apart
	latest := make([]atomic.Int64, nKeys)
	var wg sync.WaitGroup
	for j := range nManagers {
		var now atomic.Int64 // set by the one goroutine verifying with m
		m, err := apikey.NewManager(apikey.Config{Store: store, LastUsedInterval: time.Minute,
			Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each Manager closes once its own verifications are
			// over, while the others go on: a time noted in a closed
			// Manager's slot would be lost.
			defer func() {
				if err := m.Close(ctx); err != nil {
					t.Error(err)
				}
			}()
			for range (j + 1) * rounds {
				i := rand.IntN(nKeys)
				n := base.Add(time.Duration(tick.Add(1)) * 2 * time.Second).UnixNano()
				now.Store(n)
				if _, err := m.Verify(ctx, keys[i].Reveal()); err != nil {
					t.Error(err)
					return
				}
				for {
					old := latest[i].Load()
					if old >= n || latest[i].CompareAndSwap(old, n) {
						break
					}
				}
				if rand.IntN(16) == 0 {
					if err := m.FlushUsage(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	var updater sync.WaitGroup
	updater.Add(1)
	go func() {
		defer updater.Done()
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			name := fmt.Sprint("name ", n)
			_, _ = admin.Update(ctx, keys[n%nKeys].ID(), apikey.Changes{Name: &name}) // a conflict is fine
		}
	}()
	wg.Wait()
	close(done)
	updater.Wait()
	for i, k := range keys {
		rec, err := store.Get(ctx, k.ID())
		require.NoError(t, err)
		if n := latest[i].Load(); n != 0 {
			assert.Equal(t, time.Unix(0, n).UTC(), rec.LastUsed, "key %d", i)
		}
	}
}
