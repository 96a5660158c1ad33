package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// TestWriterMemoryDirect drives a Writer whose only sink is a MemorySink,
// which Emit writes to itself while nothing is queued: concurrent
// emitters under Block and Drop, some events in other locations,
// concurrent readers of the sink (while one holds it, Emit queues) so
// that Emit alternates between writing and queueing, a queue small
// enough to fill, and a Flush after every few events, after which the
// emitter's last event must be in the sink. The log is numbered consecutively, each emitter's
// events in the order emitted, and the gap markers account for the drops.
func TestWriterMemoryDirect(t *testing.T) {
	for _, qb := range [][2]int{{4, 2}, {64, 16}} {
		t.Run(fmt.Sprintf("q=%d/b=%d", qb[0], qb[1]), func(t *testing.T) {
			ctx := context.Background()
			mem := audit.NewMemorySink(1 << 20)
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{mem}, QueueSize: qb[0], BatchSize: qb[1], FlushInterval: time.Millisecond})
			zone := time.FixedZone("Z", 3600)
			const emitters, each = 4, 3000
			var wg sync.WaitGroup
			// Readers hold the sink's lock now and then: Emit then queues.
			done := make(chan struct{})
			var readers sync.WaitGroup
			for range 2 {
				readers.Go(func() {
					for {
						select {
						case <-done:
							return
						default:
						}
						if _, err := mem.Query(ctx, audit.Query{Limit: 1}); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			for g := range emitters {
				wg.Go(func() {
					for i := range each {
						e := audit.Event{Time: time.Now().UTC(), RequestID: fmt.Sprintf("g%d-%06d", g, i)}
						switch i % 7 {
						case 3:
							e.Time = e.Time.In(zone)
						case 5:
							e.Time = e.Time.Local()
						}
						p := audit.Block
						if (g+i)%3 == 0 {
							p = audit.Drop
						}
						err := w.Emit(ctx, e, p)
						if err != nil && (p == audit.Block || err != audit.ErrDropped) {
							t.Errorf("Emit: %v", err)
							return
						}
						if i%97 == 0 && err == nil {
							if err := w.Flush(ctx); err != nil {
								t.Errorf("Flush: %v", err)
								return
							}
							if !holds(mem, e.RequestID) {
								t.Errorf("%s not in the sink after Flush", e.RequestID)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			close(done)
			readers.Wait()
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			st := w.Stats()
			checkInvariant(t, st)
			if st.Emitted != emitters*each {
				t.Fatalf("Stats %+v, want %d emitted", st, emitters*each)
			}
			t.Logf("Stats %+v", st)
			last := map[byte]int{}
			var events int
			var gaps uint64
			for i, e := range mem.Events() {
				if e.Seq != uint64(i+1) {
					t.Fatalf("event %d has Seq %d", i, e.Seq)
				}
				if e.Gap > 0 {
					gaps += e.Gap
					continue
				}
				var g byte
				var n int
				if _, err := fmt.Sscanf(e.RequestID, "g%c-%d", &g, &n); err != nil {
					t.Fatalf("event %+v", e)
				}
				if prev, ok := last[g]; ok && n <= prev {
					t.Fatalf("%s after %d of its emitter", e.RequestID, prev)
				}
				last[g] = n
				events++
			}
			if uint64(events) != st.Written || gaps != st.Dropped {
				t.Fatalf("%d events and gaps of %d; Stats %+v", events, gaps, st)
			}
		})
	}
}

// holds reports whether m holds the event of request ID id.
func holds(m *audit.MemorySink, id string) bool {
	for _, e := range m.Events() {
		if e.RequestID == id {
			return true
		}
	}
	return false
}
