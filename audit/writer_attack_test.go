package audit_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keygate/keygate/audit"
)

// TestWriterFlushUnderLoad: a Flush while Emits keep the queue full (a
// sink slower than the emitters) returns once the events emitted before
// it are written, rather than waiting for the load to stop.
func TestWriterFlushUnderLoad(t *testing.T) { synctest.Test(t, testWriterFlushUnderLoad) }

func testWriterFlushUnderLoad(t *testing.T) {
	mem := audit.NewMemorySink(1 << 16)
	slow := sinkFunc(func(ctx context.Context, b []audit.Event) error {
		time.Sleep(time.Millisecond)
		return mem.Write(ctx, b)
	})
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{slow}, QueueSize: 64, BatchSize: 64})
	stop := make(chan struct{})
	var accepted atomic.Uint64 // Emits returned nil
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := w.Emit(context.Background(), req(g*1_000_000+i), audit.Block); err != nil {
					return
				}
				accepted.Add(1)
			}
		})
	}
	time.Sleep(20 * time.Millisecond) // the queue is full and stays so
	before := accepted.Load()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := w.Flush(ctx)
	cancel()
	written := w.Stats().Written
	close(stop)
	if cerr := w.Close(context.Background()); cerr != nil {
		t.Fatal(cerr)
	}
	wg.Wait()
	if err != nil {
		t.Fatalf("Flush under load: %v (%d events emitted before it, %d written when it returned)", err, before, written)
	}
	if written < before {
		t.Fatalf("Flush returned with %d events written, %d emitted before it", written, before)
	}
}

// rewritingSink is a third-party sink built on a MemorySink that rewrites
// the events of its batch before storing them, as Sink allows.
type rewritingSink struct{ *audit.MemorySink }

func (s rewritingSink) Write(ctx context.Context, batch []audit.Event) error {
	for i := range batch {
		batch[i].RequestID = "rewritten"
		batch[i].Headers = nil
	}
	return s.MemorySink.Write(ctx, batch)
}

// TestWriterSinkEmbeddingMemorySinkGetsACopy: a sink of another package
// that embeds a MemorySink (and so has its methods) but writes a batch of
// its own way gets a copy of the batch, so that what it does to it
// reaches neither the other sinks nor the Writer.
func TestWriterSinkEmbeddingMemorySinkGetsACopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mine, other := rewritingSink{audit.NewMemorySink(10)}, audit.NewMemorySink(10)
		w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mine, other}})
		e := req(1)
		e.Headers = map[string]string{"User-Agent": "x"}
		if err := w.Emit(context.Background(), e, audit.Block); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := mine.Events(); len(got) != 1 || got[0].RequestID != "rewritten" {
			t.Fatalf("the rewriting sink holds %+v", got)
		}
		if got := other.Events(); len(got) != 1 || got[0].RequestID != e.RequestID || got[0].Headers["User-Agent"] != "x" {
			t.Fatalf("the sink after it holds %+v, want the event emitted", got)
		}
	})
}

// TestWriterRingOrder: through a queue that wraps around (batches smaller
// than the queue, of varying sizes, with Emits from several goroutines and
// Flushes between), each goroutine's events are written in the order it
// emitted them, once each, and none is lost.
func TestWriterRingOrder(t *testing.T) {
	for _, c := range []struct{ queue, batch int }{{7, 3}, {8, 8}, {5, 16}, {64, 5}} {
		synctest.Test(t, func(t *testing.T) {
			mem := audit.NewMemorySink(1 << 16)
			var calls atomic.Int64
			sink := sinkFunc(func(ctx context.Context, b []audit.Event) error {
				time.Sleep(time.Duration(calls.Add(1)%5) * time.Microsecond)
				return mem.Write(ctx, b)
			})
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, QueueSize: c.queue, BatchSize: c.batch, FlushInterval: 3 * time.Microsecond})
			const perG, gs = 3000, 3
			var wg sync.WaitGroup
			for g := range gs {
				wg.Go(func() {
					for i := range perG {
						if err := w.Emit(context.Background(), req(g*perG+i), audit.Block); err != nil {
							t.Error(err)
							return
						}
						if i%97 == 0 {
							time.Sleep(time.Duration(i%7) * time.Microsecond)
						}
						if i%501 == 0 {
							if err := w.Flush(context.Background()); err != nil {
								t.Error(err)
							}
						}
					}
				})
			}
			wg.Wait()
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			log := mem.Events()
			if len(log) != perG*gs {
				t.Fatalf("queue %d, batch %d: %d events written, want %d", c.queue, c.batch, len(log), perG*gs)
			}
			last := [gs]int{-1, -1, -1}
			for i, e := range log {
				var n int
				if _, err := fmt.Sscanf(e.RequestID, "r%d", &n); err != nil || e.Seq != uint64(i+1) {
					t.Fatalf("event %d: %+v", i, e)
				}
				if g := n / perG; n <= last[g] {
					t.Fatalf("queue %d, batch %d: r%06d after r%06d", c.queue, c.batch, n, last[g])
				} else {
					last[g] = n
				}
			}
		})
	}
}

// TestWriterCloseRace: Emits under both policies until they see ErrClosed,
// Flushes, and two Closes at once: both Closes return nil; once they have,
// the counters are final, with Emitted == Written + Dropped; every event
// an Emit accepted is written, every drop is reported by a gap marker, and
// after Close, Emit fails with ErrClosed and Flush returns at once.
func TestWriterCloseRace(t *testing.T) {
	for range 20 {
		// Room for every event the emitters get in before Close: Emit
		// writes to a MemorySink itself, as fast as they call it.
		mem := audit.NewMemorySink(1 << 20)
		w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: 8, BatchSize: 3, FlushInterval: 50 * time.Microsecond})
		var accepted atomic.Uint64
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					p := audit.Block
					if g%2 == 1 {
						p = audit.Drop
					}
					err := w.Emit(context.Background(), req(g*1_000_000+i), p)
					switch {
					case err == nil:
						accepted.Add(1)
					case errors.Is(err, audit.ErrClosed):
						return
					case !errors.Is(err, audit.ErrDropped):
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 50 {
				if err := w.Flush(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
		for accepted.Load() < 64 {
			runtime.Gosched() // until the emitters are under way
		}
		closed := make(chan error, 2)
		for range 2 {
			go func() { closed <- w.Close(context.Background()) }()
		}
		for range 2 {
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
		}
		// Closed: the counters are final, although Emits may still be on
		// their way out.
		st0 := w.Stats()
		checkInvariant(t, st0)
		wg.Wait()
		if st := w.Stats(); st != st0 {
			t.Fatalf("Stats %+v after Close returned, then %+v", st0, st)
		}
		if err := w.Emit(context.Background(), req(0), audit.Drop); !errors.Is(err, audit.ErrClosed) {
			t.Fatalf("Emit after Close: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := w.Flush(ctx); err != nil {
			t.Fatalf("Flush after Close: %v", err)
		}
		cancel()
		st := w.Stats()
		checkInvariant(t, st)
		events, gaps := checkLog(t, mem.Events(), false)
		if uint64(events) != accepted.Load() || st.Written != accepted.Load() || gaps != st.Dropped {
			t.Fatalf("Stats %+v, %d accepted; the log holds %d events and gap markers for %d", st, accepted.Load(), events, gaps)
		}
	}
}
