package httpsig_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/httpsig/httpsigtest"
)

func TestMemoryNonceStore(t *testing.T) {
	httpsigtest.TestNonceStore(t, func(*testing.T) httpsig.NonceStore {
		return httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{})
	})
}

func TestMemoryNonceStoreShare(t *testing.T) {
	httpsigtest.TestNonceStoreShare(t, func(_ *testing.T, perKey int) httpsig.NonceStore {
		return httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxPerKey: perKey})
	})
}

// nonceClock is an injectable clock, safe for concurrent use.
type nonceClock struct{ ns atomic.Int64 }

func newNonceClock() *nonceClock {
	c := &nonceClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *nonceClock) Now() time.Time               { return time.Unix(0, c.ns.Load()) }
func (c *nonceClock) Advance(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *nonceClock) In(d time.Duration) time.Time { return c.Now().Add(d) }

func newClockedNonces(max int) (*httpsig.MemoryNonceStore, *nonceClock) {
	c := newNonceClock()
	// No share (MaxPerKey above MaxEntries): these tests fill the store
	// from one key ID.
	return httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: max, MaxPerKey: 1 << 30, Now: c.Now}), c
}

// TestMemoryNonceStoreFull fills the store with unexpired nonces: the next
// new nonce is refused with ErrNonceStoreFull (never accepted unrecorded),
// nothing recorded is evicted, and replays are still reported as replays.
func TestMemoryNonceStoreFull(t *testing.T) {
	ctx := context.Background()
	const max = 1000
	s, c := newClockedNonces(max)
	for i := range max {
		ok, err := s.Claim(ctx, "key_1", strconv.Itoa(i), c.In(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
	}
	assert.Equal(t, max, s.Len())
	for _, key := range []string{"key_1", "key_2"} {
		ok, err := s.Claim(ctx, key, "new", c.In(time.Hour))
		require.ErrorIs(t, err, httpsig.ErrNonceStoreFull, "a new nonce in a full store")
		assert.False(t, ok)
	}
	// Time passes, but not enough for anything to expire.
	c.Advance(59 * time.Minute)
	_, err := s.Claim(ctx, "key_1", "new", c.In(time.Hour))
	require.ErrorIs(t, err, httpsig.ErrNonceStoreFull)
	for i := range max {
		ok, err := s.Claim(ctx, "key_1", strconv.Itoa(i), c.In(time.Hour))
		require.NoError(t, err, "a replay in a full store is a replay, not an error")
		require.False(t, ok, "nonce %d was evicted before its expiry", i)
	}
	assert.Equal(t, max, s.Len())
	// Once they expire, there is room again, for as many.
	c.Advance(time.Minute)
	for i := range max {
		ok, err := s.Claim(ctx, "key_1", "new"+strconv.Itoa(i), c.In(time.Hour))
		require.NoError(t, err, "claim %d once the store expired", i)
		require.True(t, ok)
	}
	assert.Equal(t, max, s.Len(), "the expired nonces are gone")
}

// TestMemoryNonceStoreFullPartlyExpired mixes short and long expiries: the
// sweeps free exactly the expired entries.
func TestMemoryNonceStoreFullPartlyExpired(t *testing.T) {
	ctx := context.Background()
	const max = 1000
	s, c := newClockedNonces(max)
	for i := range max {
		ttl := time.Hour
		if i%2 == 0 {
			ttl = time.Second
		}
		ok, err := s.Claim(ctx, "key_1", strconv.Itoa(i), c.In(ttl))
		require.NoError(t, err)
		require.True(t, ok)
	}
	_, err := s.Claim(ctx, "key_1", "new", c.In(time.Hour))
	require.ErrorIs(t, err, httpsig.ErrNonceStoreFull)
	c.Advance(time.Second) // expiry is exclusive: at exp the nonce is gone
	for i := range max / 2 {
		ok, err := s.Claim(ctx, "key_2", strconv.Itoa(i), c.In(time.Hour))
		require.NoError(t, err, "claim %d after half the store expired", i)
		require.True(t, ok)
	}
	_, err = s.Claim(ctx, "key_2", "one too many", c.In(time.Hour))
	require.ErrorIs(t, err, httpsig.ErrNonceStoreFull)
	for i := range max {
		ok, err := s.Claim(ctx, "key_1", strconv.Itoa(i), c.In(time.Hour))
		if i%2 == 0 {
			// Expired: claimable, but the store is full again.
			require.ErrorIs(t, err, httpsig.ErrNonceStoreFull)
		} else {
			require.NoError(t, err)
			require.False(t, ok, "unexpired nonce %d evicted", i)
		}
	}
}

// TestMemoryNonceStoreFullConcurrent races many new nonces against the
// bound: exactly MaxEntries are recorded, the rest refused.
func TestMemoryNonceStoreFullConcurrent(t *testing.T) {
	const max, workers, per = 1000, 40, 100
	s, c := newClockedNonces(max)
	var won, full atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				ok, err := s.Claim(context.Background(), "key_"+strconv.Itoa(w), strconv.Itoa(i), c.In(time.Hour))
				switch {
				case errors.Is(err, httpsig.ErrNonceStoreFull):
					full.Add(1)
				case err != nil:
					t.Errorf("Claim: %v", err)
				case ok:
					won.Add(1)
				default:
					t.Errorf("Claim of a new nonce reported a replay")
				}
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, max, won.Load())
	assert.EqualValues(t, workers*per-max, full.Load())
	assert.Equal(t, max, s.Len())
}

// TestMemoryNonceStoreModel checks Claim against a plain map over a long
// random run: expiries in and out of order (the queue and the heap), a
// clock that moves by random steps, nonces reused so that replays and
// reclaims after expiry both happen, and bursts that make shards shrink.
func TestMemoryNonceStoreModel(t *testing.T) {
	ctx := context.Background()
	s, c := newClockedNonces(0)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]time.Time{} // nonce → expiry
	for i := range 200_000 {
		n := strconv.Itoa(rng.IntN(5000))
		var ttl time.Duration
		switch rng.IntN(4) {
		case 0: // a constant TTL, as the verifier's: in order
			ttl = 500 * time.Millisecond
		case 1: // shorter: out of order
			ttl = time.Duration(1+rng.IntN(400)) * time.Millisecond
		default:
			ttl = time.Duration(1+rng.IntN(2000)) * time.Millisecond
		}
		exp := c.In(ttl)
		want := !model[n].After(c.Now())
		ok, err := s.Claim(ctx, "key_1", n, exp)
		require.NoError(t, err)
		require.Equal(t, want, ok, "claim %d of nonce %s at %v (recorded until %v)", i, n, c.Now(), model[n])
		if ok {
			model[n] = exp
		}
		if i%50_000 == 49_999 {
			c.Advance(3 * time.Second) // everything expires
		} else {
			c.Advance(time.Duration(rng.IntN(200)) * time.Microsecond)
		}
	}
}

// TestMemoryNonceStoreShrinkKeepsLive makes every shard shrink (most of
// its entries expire) while some entries live on, in the queue and in the
// heap: those are still replays afterwards, the others claimable again.
func TestMemoryNonceStoreShrinkKeepsLive(t *testing.T) {
	ctx := context.Background()
	s, c := newClockedNonces(0)
	const short, long = 100_000, 10_000
	claim := func(n string, ttl time.Duration, want bool) {
		t.Helper()
		ok, err := s.Claim(ctx, "key_1", n, c.In(ttl))
		require.NoError(t, err)
		require.Equal(t, want, ok, "nonce %s", n)
	}
	for i := range short {
		claim("s"+strconv.Itoa(i), time.Second, true)
		if i%10 == 0 {
			// The long ones are queued (no expiry is later), the short
			// ones after the first long one go to the heap.
			claim("l"+strconv.Itoa(i/10), time.Hour, true)
		}
	}
	require.Equal(t, short+long, s.Len())
	c.Advance(time.Second)
	for i := range long {
		claim("l"+strconv.Itoa(i), time.Hour, false)
	}
	require.Equal(t, long, s.Len(), "a Claim in every shard swept it")
	for i := range short {
		claim("s"+strconv.Itoa(i), time.Hour, true)
	}
	for i := range long {
		claim("l"+strconv.Itoa(i), time.Hour, false)
	}
	require.Equal(t, short+long, s.Len())
}

// TestMemoryNonceStoreEviction claims 100,000 nonces, each living 100 ms,
// one every millisecond of an injected clock: about 100 are live at any
// time, and the store holds little more than those.
func TestMemoryNonceStoreEviction(t *testing.T) {
	ctx := context.Background()
	s, c := newClockedNonces(0)
	most := 0
	for i := range 100_000 {
		ok, err := s.Claim(ctx, "key_1", strconv.Itoa(i), c.In(100*time.Millisecond))
		require.NoError(t, err)
		require.True(t, ok)
		c.Advance(time.Millisecond)
		most = max(most, s.Len())
	}
	// 100 live, plus expired entries in shards not claimed since they
	// expired (with 64 shards, a shard waits about 64 claims).
	assert.LessOrEqual(t, most, 400, "entries held at once")
	t.Logf("at most %d entries held at once", most)
}

// BenchmarkMemoryNonceStoreShrinks measures the heap after a burst of
// 200,000 nonces and once, the burst expired, a trickle of 5,000 new ones
// has swept it: memory follows the live entries. The figures are reported,
// not asserted; TestNonceShrinkAfterBurst checks the mechanism.
func BenchmarkMemoryNonceStoreShrinks(b *testing.B) {
	ctx := context.Background()
	heap := func() int64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	var before, peak, after int64
	for b.Loop() {
		s, c := newClockedNonces(0)
		before = heap()
		const burst = 200_000
		for i := range burst {
			if ok, err := s.Claim(ctx, "key_1", fmt.Sprintf("burst-%08d", i), c.In(time.Minute)); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		peak = heap()
		c.Advance(time.Hour)
		for i := range 5000 {
			if ok, err := s.Claim(ctx, "key_1", fmt.Sprintf("after-%08d", i), c.In(time.Minute)); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		after = heap()
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(peak-before)/1024, "burst-KiB")
	b.ReportMetric(float64(after-before)/1024, "after-KiB")
}

// TestMemoryNonceStoreExpiryNotAfterNow: an expiry that has passed (or the
// zero time) is an error, and records nothing; far expiries work.
func TestMemoryNonceStoreExpiryNotAfterNow(t *testing.T) {
	ctx := context.Background()
	s, c := newClockedNonces(0)
	for _, exp := range []time.Time{c.Now(), c.In(-time.Second), {}} {
		ok, err := s.Claim(ctx, "key_1", "n", exp)
		require.Error(t, err, "expiry %v", exp)
		assert.False(t, ok)
	}
	assert.Zero(t, s.Len())
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	ok, err := s.Claim(ctx, "key_1", "n", far)
	require.NoError(t, err)
	assert.True(t, ok)
	c.Advance(100 * 365 * 24 * time.Hour)
	ok, err = s.Claim(ctx, "key_1", "n", far)
	require.NoError(t, err)
	assert.False(t, ok, "an expiry beyond 2262 must not wrap around")
}

// TestMemoryNonceStoreAllocs: a Claim allocates nothing but, amortised
// (below one allocation per claim), the growth of a map or a heap.
func TestMemoryNonceStoreAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	ctx := context.Background()
	s, c := newClockedNonces(0)
	exp := c.In(time.Hour)
	_, err := s.Claim(ctx, "key_1", "replayed", exp)
	require.NoError(t, err)
	replay := testing.AllocsPerRun(1000, func() {
		if ok, _ := s.Claim(ctx, "key_1", "replayed", exp); ok {
			t.Fatal("replay accepted")
		}
	})
	assert.Zero(t, replay, "allocations per replay")

	const n = 100_000
	nonces := make([]string, n+1)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("%016x", i)
	}
	i := 0
	fresh := testing.AllocsPerRun(n, func() {
		if ok, _ := s.Claim(ctx, "key_1", nonces[i], exp); !ok {
			t.Fatal("new nonce refused")
		}
		i++
	})
	assert.Zero(t, fresh, "allocations per new nonce (integer average)")
	t.Logf("allocations: %v per replay, %v per new nonce", replay, fresh)
}

var benchNonces = sync.OnceValue(func() []string {
	ns := make([]string, 1<<20)
	for i := range ns {
		ns[i] = fmt.Sprintf("%016x", i)
	}
	return ns
})

// BenchmarkMemoryNonceClaim claims distinct nonces on the real clock, each
// living 100 ms, so that the figure includes evicting them (as in
// production, where every accepted nonce is eventually evicted). Each
// goroutine has its own key ID and walks 2^20 nonces, more than it claims
// in 100 ms, so every claim is new ("replays" reports any that was not).
// The per-key-ID share is on (so counted) but as large as the store: one
// goroutine claims more than the default share within 100 ms.
func BenchmarkMemoryNonceClaim(b *testing.B) {
	const ttl = 100 * time.Millisecond
	nonces := benchNonces()
	ctx := context.Background()
	cfg := httpsig.MemoryNonceConfig{MaxPerKey: httpsig.DefaultMaxNonces - 1}
	b.Run("serial", func(b *testing.B) {
		s := httpsig.NewMemoryNonceStore(cfg)
		b.ReportAllocs()
		replays, i := 0, 0
		for b.Loop() {
			ok, err := s.Claim(ctx, "key_1", nonces[i&(len(nonces)-1)], time.Now().Add(ttl))
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				replays++
			}
			i++
		}
		b.ReportMetric(float64(replays), "replays")
	})
	b.Run("parallel", func(b *testing.B) {
		s := httpsig.NewMemoryNonceStore(cfg)
		var ids, replays atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			key := "key_" + strconv.FormatInt(ids.Add(1), 10)
			i, r := 0, 0
			for pb.Next() {
				ok, err := s.Claim(ctx, key, nonces[i&(len(nonces)-1)], time.Now().Add(ttl))
				if err != nil {
					b.Error(err)
					return
				}
				if !ok {
					r++
				}
				i++
			}
			replays.Add(int64(r))
		})
		b.ReportMetric(float64(replays.Load()), "replays")
	})
	b.Run("replay", func(b *testing.B) {
		s := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{})
		exp := time.Now().Add(time.Hour)
		if _, err := s.Claim(ctx, "key_1", nonces[0], exp); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := s.Claim(ctx, "key_1", nonces[0], exp); ok {
				b.Fatal("replay accepted")
			}
		}
	})
}

// TestMemoryNonceStoreOneKeyCannotFillIt is the regression test of issue
// 12 §8 with the default share: one key ID claiming far more nonces than
// the store holds leaves room for another key ID. (Before the share
// existed, key_flood filled the store and key_other got ErrNonceStoreFull.)
func TestMemoryNonceStoreOneKeyCannotFillIt(t *testing.T) {
	ctx := context.Background()
	const max = 640 // default share: 640/64 = 10
	c := newNonceClock()
	s := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: max, Now: c.Now})
	accepted := 0
	for i := range 2 * max {
		if ok, err := s.Claim(ctx, "key_flood", strconv.Itoa(i), c.In(time.Hour)); err == nil && ok {
			accepted++
		}
	}
	assert.Less(t, accepted, max, "one key ID filled the store")
	for i := range 10 {
		ok, err := s.Claim(ctx, "key_other", strconv.Itoa(i), c.In(time.Hour))
		require.NoError(t, err, "another key ID's claim %d after one key ID flooded the store", i)
		require.True(t, ok)
	}
}

// TestMemoryNonceStorePerKeyShare: a key ID at its share is refused with
// ErrNonceQuota (not ErrNonceStoreFull) while others still claim; replays
// stay replays; the share frees as its nonces expire.
func TestMemoryNonceStorePerKeyShare(t *testing.T) {
	ctx := context.Background()
	c := newNonceClock()
	s := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: 100, MaxPerKey: 10, Now: c.Now})
	for i := range 10 {
		ttl := time.Hour
		if i < 3 {
			ttl = time.Minute
		}
		ok, err := s.Claim(ctx, "key_a", strconv.Itoa(i), c.In(ttl))
		require.NoError(t, err)
		require.True(t, ok)
	}
	assert.Equal(t, 10, s.LenKey("key_a"))
	ok, err := s.Claim(ctx, "key_a", "one too many", c.In(time.Hour))
	require.ErrorIs(t, err, httpsig.ErrNonceQuota)
	assert.NotErrorIs(t, err, httpsig.ErrNonceStoreFull)
	assert.False(t, ok)
	ok, err = s.Claim(ctx, "key_a", "3", c.In(time.Hour))
	require.NoError(t, err, "a replay at the share is a replay, not an error")
	assert.False(t, ok)
	for _, key := range []string{"key_b", "key_c"} {
		for i := range 10 {
			ok, err := s.Claim(ctx, key, strconv.Itoa(i), c.In(time.Hour))
			require.NoError(t, err, "%s claim %d while key_a is at its share", key, i)
			require.True(t, ok)
		}
	}
	assert.Equal(t, 30, s.Len())
	// The three short nonces expire: exactly three more for key_a. The
	// sweep of every shard finds them wherever they are.
	c.Advance(time.Minute)
	for i := range 3 {
		ok, err := s.Claim(ctx, "key_a", "later"+strconv.Itoa(i), c.In(time.Hour))
		require.NoError(t, err, "claim %d after three of key_a's nonces expired", i)
		require.True(t, ok)
	}
	_, err = s.Claim(ctx, "key_a", "later3", c.In(time.Hour))
	require.ErrorIs(t, err, httpsig.ErrNonceQuota)
	assert.Equal(t, 10, s.LenKey("key_a"))
	// Everything expires: key_a has its whole share again, and the sweep
	// its first claim makes forgets every count.
	c.Advance(time.Hour)
	for i := range 10 {
		ok, err := s.Claim(ctx, "key_a", "again"+strconv.Itoa(i), c.In(time.Hour))
		require.NoError(t, err, "claim %d after everything expired", i)
		require.True(t, ok)
	}
	assert.Equal(t, 10, s.LenKey("key_a"))
	assert.Zero(t, s.LenKey("key_b"))
	assert.Zero(t, s.LenKey("key_c"))
	assert.Equal(t, 10, s.Len())
}

// TestMemoryNonceStoreShareAndFull: the store fills from several keys at
// their share; then a key below its share gets ErrNonceStoreFull, a key at
// it ErrNonceQuota.
func TestMemoryNonceStoreShareAndFull(t *testing.T) {
	ctx := context.Background()
	c := newNonceClock()
	s := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: 25, MaxPerKey: 10, Now: c.Now})
	claims := []struct {
		key  string
		n    int
		want error
	}{
		{"key_a", 10, nil},
		{"key_b", 10, nil},
		{"key_c", 5, nil},
		{"key_c", 1, httpsig.ErrNonceStoreFull},
		{"key_a", 1, httpsig.ErrNonceQuota},
	}
	for _, cl := range claims {
		for i := range cl.n {
			ok, err := s.Claim(ctx, cl.key, fmt.Sprint(cl.want, i), c.In(time.Hour))
			if cl.want != nil {
				require.ErrorIs(t, err, cl.want, cl.key)
				continue
			}
			require.NoError(t, err, cl.key)
			require.True(t, ok)
		}
	}
}

// TestMemoryNonceStoreShareConcurrent races two key IDs: the flooding one
// gets exactly its share, the other all its claims.
func TestMemoryNonceStoreShareConcurrent(t *testing.T) {
	const share, workers, per = 50, 20, 20
	c := newNonceClock()
	s := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{MaxEntries: 1000, MaxPerKey: share, Now: c.Now})
	var flood, quota, other atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				ok, err := s.Claim(context.Background(), "key_flood", fmt.Sprint(w, "/", i), c.In(time.Hour))
				switch {
				case errors.Is(err, httpsig.ErrNonceQuota):
					quota.Add(1)
				case err != nil || !ok:
					t.Errorf("flood Claim: %v, %v", ok, err)
				default:
					flood.Add(1)
				}
				if i%10 == 0 {
					ok, err := s.Claim(context.Background(), "key_other", fmt.Sprint(w, "/", i), c.In(time.Hour))
					if err != nil || !ok {
						t.Errorf("other Claim: %v, %v", ok, err)
					} else {
						other.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, share, flood.Load())
	assert.EqualValues(t, workers*per-share, quota.Load())
	assert.EqualValues(t, workers*per/10, other.Load())
	assert.Equal(t, share, s.LenKey("key_flood"))
	assert.Equal(t, share+workers*per/10, s.Len())
}
