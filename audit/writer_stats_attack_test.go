package audit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// TestAttackWriterStatsDirect attacks Stats and Flush of a Writer whose
// only sink is a MemorySink (Emit's direct writes, counted apart) while
// events flow under Block and Drop, a reader makes Emit queue now and
// then, and Close comes in the middle of it all: every snapshot has
// Written + Dropped <= Emitted and each counter never goes back; a Flush
// makes every event its goroutine emitted before it visible; and after
// Close, Emitted is the number of Emits that returned nil or ErrDropped,
// Dropped those of ErrDropped plus the events Close gave up on, Written
// the events in the sink.
func TestAttackWriterStatsDirect(t *testing.T) {
	for round := range 6 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			ctx := context.Background()
			mem := audit.NewMemorySink(1 << 20)
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: 8, BatchSize: 3, FlushInterval: time.Millisecond})
			var accepted, dropped atomic.Uint64
			var givingUp atomic.Bool // Close's ctx is done: it may abandon events
			stop := make(chan struct{})
			var bg sync.WaitGroup
			bg.Go(func() { // a reader: Emit queues while it holds the sink
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = mem.Query(ctx, audit.Query{Limit: 1})
				}
			})
			bg.Go(func() { // Stats snapshots
				var prev audit.Stats
				for {
					select {
					case <-stop:
						return
					default:
					}
					st := w.Stats()
					if st.Written+st.Dropped > st.Emitted {
						t.Errorf("Stats %+v: Written + Dropped > Emitted", st)
						return
					}
					if st.Emitted < prev.Emitted || st.Written < prev.Written || st.Dropped < prev.Dropped {
						t.Errorf("Stats %+v after %+v: a counter went back", st, prev)
						return
					}
					prev = st
				}
			})
			// Close comes once the emitters have emitted a round's share
			// of events (or one of them has stopped early, on an error).
			midway := make(chan struct{})
			reached := sync.OnceFunc(func() { close(midway) })
			threshold := uint64(500 + round*300)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					defer reached()
					p := audit.Block
					if g%2 == 1 {
						p = audit.Drop
					}
					for i := 0; ; i++ {
						if accepted.Load()+dropped.Load() >= threshold {
							reached()
						}
						id := fmt.Sprintf("g%d-%d", g, i)
						err := w.Emit(ctx, audit.Event{Time: time.Now().UTC(), RequestID: id, KeyID: id}, p)
						switch {
						case err == nil:
							accepted.Add(1)
						case errors.Is(err, audit.ErrDropped):
							dropped.Add(1)
							continue
						case errors.Is(err, audit.ErrClosed):
							return
						default:
							t.Errorf("Emit: %v", err)
							return
						}
						if i%25 == 0 && g%2 == 0 {
							if err := w.Flush(ctx); err != nil {
								t.Errorf("Flush: %v", err)
								return
							}
							page, err := mem.Query(ctx, audit.Query{Limit: 1, KeyID: id})
							if err != nil {
								t.Error(err)
								return
							}
							// Close too writes everything queued before
							// Flush returns, unless it gives up.
							if len(page.Events) != 1 && !givingUp.Load() {
								t.Errorf("%s emitted before Flush, not in the sink after it", id)
								return
							}
						}
					}
				})
			}
			<-midway
			cctx := ctx
			if round%3 == 2 {
				// Close gives up at once now and then: its abandoned
				// events count as dropped.
				c, cancel := context.WithCancel(ctx)
				cancel()
				cctx = c
				givingUp.Store(true)
			}
			_ = w.Close(cctx)
			wg.Wait()
			close(stop)
			bg.Wait()
			st := w.Stats()
			if st.Emitted != st.Written+st.Dropped {
				t.Fatalf("Stats %+v: Emitted != Written + Dropped", st)
			}
			if want := accepted.Load() + dropped.Load(); st.Emitted != want {
				t.Fatalf("Stats %+v, %d Emits returned nil and %d ErrDropped", st, accepted.Load(), dropped.Load())
			}
			if st.Dropped < dropped.Load() {
				t.Fatalf("Stats %+v, %d Emits returned ErrDropped", st, dropped.Load())
			}
			var events uint64
			for _, e := range mem.Events() {
				if e.Gap == 0 {
					events++
				}
			}
			if events != st.Written {
				t.Fatalf("%d events in the sink, Stats %+v", events, st)
			}
			t.Logf("Stats %+v", st)
		})
	}
}
