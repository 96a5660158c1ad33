package audit_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// TestWriterMemoryDirectCausal attacks Emit's direct write to a lone
// MemorySink across emitters, not per emitter: events emitted one after
// another by different goroutines (handed a baton under a mutex) must be
// numbered in that order, whichever of them Emit wrote itself and which
// it queued (readers of the sink, Query, Summarize and Events, make it
// queue now and then; Drop emitters fill the small queue). And a Flush by
// a goroutine that did not emit must make every event whose Emit returned
// before it visible in the sink.
func TestWriterMemoryDirectCausal(t *testing.T) {
	ctx := context.Background()
	mem := audit.NewMemorySink(1 << 20)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: 4, BatchSize: 2, FlushInterval: time.Millisecond})
	done := make(chan struct{})
	var bg sync.WaitGroup
	var reads, noise atomic.Int64
	// The baton: emitters take turns under mu, each Emit returning before
	// the next starts; last is the number of the newest returned.
	var mu sync.Mutex
	var next int
	var last atomic.Int64
	last.Store(-1)
	bg.Go(func() { // readers: Emit queues while one holds the sink
		for i := 0; ; i++ {
			reads.Add(1)
			select {
			case <-done:
				return
			default:
			}
			switch i % 3 {
			case 0:
				_, _ = mem.Query(ctx, audit.Query{Limit: 2, Reason: "baton"})
			case 1:
				_, _ = mem.Summarize(ctx, audit.SummaryQuery{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)})
			case 2:
				if i%300 == 2 {
					_ = mem.Events()
				}
			}
		}
	})
	bg.Go(func() { // noise under Drop: fills the queue, so that gaps are marked
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if noise.Load() > 3*(last.Load()+10) {
				runtime.Gosched() // at most about three per baton event
				continue
			}
			_ = w.Emit(ctx, audit.Event{Time: time.Now().UTC(), RequestID: fmt.Sprintf("noise-%d", i)}, audit.Drop)
			noise.Add(1)
		}
	})
	const total = 1500
	for reads.Load() < 10 || noise.Load() < 10 {
		runtime.Gosched() // until the readers and the noise are under way
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				mu.Lock()
				n := next
				if n == total {
					mu.Unlock()
					return
				}
				next++
				err := w.Emit(ctx, audit.Event{Time: time.Now().UTC(), RequestID: fmt.Sprintf("baton-%06d", n), KeyID: fmt.Sprintf("baton-%06d", n), Reason: "baton"}, audit.Block)
				if err == nil {
					last.Store(int64(n))
				}
				mu.Unlock()
				if err != nil {
					t.Errorf("Emit: %v", err)
					return
				}
				runtime.Gosched() // let the others run between batons
			}
		})
	}
	wg.Go(func() { // a flusher that emits nothing
		for last.Load() < total-1 {
			n := last.Load()
			if n < 0 {
				continue
			}
			if err := w.Flush(ctx); err != nil {
				t.Errorf("Flush: %v", err)
				return
			}
			id := fmt.Sprintf("baton-%06d", n)
			p, err := mem.Query(ctx, audit.Query{Limit: 1, KeyID: id})
			if err != nil {
				t.Error(err)
				return
			}
			found := len(p.Events) == 1 && p.Events[0].RequestID == id
			if !found {
				t.Errorf("%s returned from Emit before Flush, not in the sink after it", id)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	bg.Wait()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	prev := -1
	var seq uint64
	var gaps uint64
	var events uint64
	for _, e := range mem.Events() {
		if e.Seq != seq+1 {
			t.Fatalf("Seq %d after %d", e.Seq, seq)
		}
		seq = e.Seq
		if e.Gap > 0 {
			gaps += e.Gap
			continue
		}
		events++
		var n int
		if _, err := fmt.Sscanf(e.RequestID, "baton-%d", &n); err != nil {
			continue
		}
		if n != prev+1 {
			t.Fatalf("baton-%06d after baton-%06d", n, prev)
		}
		prev = n
	}
	t.Logf("Stats %+v gaps %d", st, gaps)
	if prev != total-1 {
		t.Fatalf("last baton event %d, want %d", prev, total-1)
	}
	if events != st.Written || gaps != st.Dropped {
		t.Fatalf("%d events, gaps of %d; Stats %+v", events, gaps, st)
	}
}
