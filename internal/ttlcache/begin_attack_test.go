package ttlcache

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// checkConsistent fails t unless keys, index and entries hold the same
// keys, each at its place, and no more than max of them.
func checkConsistent[V any](t *testing.T, c *Cache[V]) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) != len(c.index) || len(c.keys) > c.max {
		t.Errorf("keys %d, index %d, max %d", len(c.keys), len(c.index), c.max)
		return
	}
	for i, k := range c.keys {
		if j, ok := c.index[k]; !ok || j != i {
			t.Errorf("key %q at %d, index says %d (%v)", k, i, j, ok)
		}
		if _, ok := c.entries.Load(k); !ok {
			t.Errorf("key %q indexed without an entry", k)
		}
	}
	n := 0
	c.entries.Range(func(k, _ any) bool {
		n++
		if _, ok := c.index[k.(string)]; !ok {
			t.Errorf("entry %q not indexed", k)
		}
		return true
	})
	if n != len(c.keys) {
		t.Errorf("%d entries, %d keys", n, len(c.keys))
	}
}

// TestBeginPutConsistentAttack races Begin/Put (reads that end out of
// order, past the TTL, on a clock that also steps back) with Invalidate
// and InvalidateAll on a small cache, then checks that keys, index and
// entries agree and the bound holds: Put's early returns leave no key
// half-stored.
func TestBeginPutConsistentAttack(t *testing.T) {
	var clk atomic.Int64
	base := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return base.Add(time.Duration(clk.Load())) }
	c := New[int](10*time.Millisecond, 8, now)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var pending []Read
			for i := range 20000 {
				k := strconv.Itoa(r.IntN(24))
				switch op := r.IntN(20); {
				case op < 8:
					pending = append(pending, c.Begin())
				case op < 15 && len(pending) > 0:
					j := r.IntN(len(pending))
					c.Put(k, i, pending[j])
					pending = append(pending[:j], pending[j+1:]...)
				case op < 17:
					clk.Add(int64(r.IntN(6)-1) * int64(time.Millisecond)) // mostly forward, sometimes back
				case op < 19:
					c.Invalidate(k)
				case i%50 == 0:
					c.InvalidateAll()
				default:
					c.Get(k)
				}
				if i%256 == 0 {
					checkConsistent(t, c)
				}
			}
		}()
	}
	wg.Wait()
	checkConsistent(t, c)
}

// versioned is a backing store of one counter per key: each write
// increments it, as a revocation or a rotation changes a record.
type versioned struct {
	mu sync.Mutex
	v  map[string]int
}

func (b *versioned) get(_ context.Context, k string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v[k], nil
}

// TestInvalidateNeverUndoneAttack: once a write to the backing store and
// its Invalidate have returned, no Get serves an older version, whatever
// reads were in flight, however they end (out of order, past the TTL)
// under the new keep-the-later-read rule.
func TestInvalidateNeverUndoneAttack(t *testing.T) {
	for _, clock := range []string{"system", "frozen"} {
		t.Run(clock, func(t *testing.T) {
			var now func() time.Time
			if clock == "frozen" { // every read begins at the same instant
				at := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
				now = func() time.Time { return at }
			}
			c := New[int](time.Hour, 4, now)
			b := &versioned{v: map[string]int{}}
			var done [3]atomic.Int64 // per key: the version whose Invalidate returned
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						k := i % 3
						floor := done[k].Load()
						v, err := c.GetOrLoad(context.Background(), strconv.Itoa(k), func(ctx context.Context, key string) (int, error) {
							if i%3 == 0 {
								time.Sleep(time.Microsecond) // a slow read
							}
							return b.get(ctx, key)
						})
						if err != nil {
							t.Error(err)
							return
						}
						if int64(v) < floor {
							t.Errorf("key %d: version %d served after version %d was written and invalidated", k, v, floor)
							return
						}
					}
				}()
			}
			for i := range 3000 {
				k := i % 3
				b.mu.Lock()
				b.v[strconv.Itoa(k)]++
				v := b.v[strconv.Itoa(k)]
				b.mu.Unlock()
				c.Invalidate(strconv.Itoa(k))
				done[k].Store(int64(v))
				if i%7 == 0 {
					time.Sleep(time.Microsecond)
				}
			}
			close(stop)
			wg.Wait()
			checkConsistent(t, c)
		})
	}
}

// TestPutClockBackAttack: an injected clock (CacheConfig.Now, a wall
// clock) steps back while a read is in flight. The value must not be
// served for longer than the TTL after it was put, as before Begin: an
// expiry counted from the read's start, a reading now in the clock's
// future, kept the value a TTL plus the step (here an hour) on the
// cache's own clock, so that a change made elsewhere after the step went
// unseen that long.
func TestPutClockBackAttack(t *testing.T) {
	var step atomic.Int64
	base := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return base.Add(time.Duration(step.Load())) }
	c := New[int](time.Second, 3, now)
	read := c.Begin()
	step.Store(int64(-time.Hour)) // the clock steps back an hour
	c.Put("a", 1, read)
	if _, ok := c.Get("a"); !ok {
		t.Fatal("not cached")
	}
	step.Add(int64(time.Second))
	if _, ok := c.Get("a"); ok {
		t.Error("served more than the TTL after it was put (the clock stepped back during its read)")
	}
}

// gatedRecs is a backing store of one record per ID whose reads a test
// orders: read i waits on before[i], reads, then waits on after[i].
type gatedRecs struct {
	mu            sync.Mutex
	recs          map[string]string
	calls         chan int
	before, after [2]chan struct{}
}

func (b *gatedRecs) get(_ context.Context, id string) (string, error) {
	i := <-b.calls
	<-b.before[i]
	b.mu.Lock()
	v := b.recs[id]
	b.mu.Unlock()
	<-b.after[i]
	return v, nil
}

// TestPutKeepsOlderRecordAttack: reads are not ordered by when they
// began, which does not order what they read: the read begun first can
// read the backing store last. Here it reads a key's revocation made on
// another instance, and its caller is refused; the read begun second read
// the record before the revocation and ended first. The cache must then
// hold the revocation, not the older, active record (which a rule "keep
// the value of the read begun later", tried and dropped, served for up to
// the TTL: a key this instance already refused was accepted again). The
// last Put wins.
func TestPutKeepsOlderRecordAttack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := &gatedRecs{recs: map[string]string{"k": "active"}, calls: make(chan int, 2)}
		for i := range 2 {
			b.before[i], b.after[i] = make(chan struct{}), make(chan struct{})
		}
		c := New[string](time.Minute, 10, nil)
		get := func(i int, out chan<- string) {
			b.calls <- i
			v, err := c.GetOrLoad(ctx, "k", b.get)
			if err != nil {
				t.Error(err)
			}
			out <- v
		}
		first, second := make(chan string, 1), make(chan string, 1)
		go get(0, first) // begins at 0 s
		time.Sleep(time.Second)
		synctest.Wait()
		go get(1, second) // begins at 1 s
		synctest.Wait()
		b.before[1] <- struct{}{} // the second read reads "active"
		time.Sleep(time.Second)
		b.mu.Lock()
		b.recs["k"] = "revoked" // on another instance
		b.mu.Unlock()
		b.after[1] <- struct{}{} // and ends first
		if v := <-second; v != "active" {
			t.Fatalf("second read: %q", v)
		}
		b.before[0] <- struct{}{} // the first read reads "revoked"
		b.after[0] <- struct{}{}
		if v := <-first; v != "revoked" {
			t.Fatalf("first read: %q", v)
		}
		time.Sleep(time.Second)
		if v, ok := c.Get("k"); ok && v != "revoked" {
			t.Errorf("cached %q after this instance read and served %q", v, "revoked")
		}
	})
}
