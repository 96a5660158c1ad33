package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// TestWriterEncodedStress: concurrent Emit (Block and Drop, events of
// varied sizes, some in other locations), concurrent Flush, to FileSinks
// alone (lines) and beside a MemorySink, with BatchSize < QueueSize (the
// records copied, the queue's buffer compacted). Every event kept is in
// the file once, numbered, and the gap markers account for the drops.
func TestWriterEncodedStress(t *testing.T) {
	for _, withMemory := range []bool{false, true} {
		for _, qb := range [][2]int{{7, 3}, {64, 64}, {33, 10}} {
			t.Run(fmt.Sprintf("memory=%v/q=%d/b=%d", withMemory, qb[0], qb[1]), func(t *testing.T) {
				ctx := context.Background()
				path := filepath.Join(t.TempDir(), "a.jsonl")
				f, err := audit.OpenFile(audit.FileConfig{Path: path, Sync: audit.SyncNever})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				mem := audit.NewMemorySink(1 << 20)
				sinks := []audit.Sink{f}
				if withMemory {
					sinks = append(sinks, mem)
				}
				w := audit.NewWriter(audit.WriterConfig{Sinks: sinks, QueueSize: qb[0], BatchSize: qb[1], FlushInterval: time.Millisecond})
				var id atomic.Int64
				var wg sync.WaitGroup
				zones := []*time.Location{time.UTC, time.Local}
				for i := range 12 {
					zones = append(zones, time.FixedZone(fmt.Sprint("Z", i), i*900))
				}
				for g := range 4 {
					wg.Go(func() {
						for i := range 500 {
							n := id.Add(1)
							e := audit.Event{Time: time.Now().In(zones[int(n)%len(zones)]), RequestID: fmt.Sprintf("r%07d", n),
								Path: strings.Repeat("x", int(n*7919)%5000)}
							p := audit.Block
							if (g+i)%2 == 0 {
								p = audit.Drop
							}
							_ = w.Emit(ctx, e, p)
						}
					})
				}
				wg.Go(func() {
					for range 50 {
						_ = w.Flush(ctx)
					}
				})
				wg.Wait()
				if err := w.Close(ctx); err != nil {
					t.Fatal(err)
				}
				st := w.Stats()
				checkInvariant(t, st)
				log := readLog(t, path)
				events, gaps := checkLog(t, log, false)
				if uint64(events) != st.Written || gaps != st.Dropped {
					t.Fatalf("%d events, gaps for %d; Stats %+v", events, gaps, st)
				}
				if withMemory {
					got := mem.Events()
					if len(got) != len(log) {
						t.Fatalf("memory %d events, file %d", len(got), len(log))
					}
					for i, e := range got {
						if e.Seq != log[i].Seq || e.RequestID != log[i].RequestID || e.Path != log[i].Path || !e.Time.Equal(log[i].Time) || e.Gap != log[i].Gap {
							t.Fatalf("event %d differs", i)
						}
					}
				}
			})
		}
	}
}
