package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/cputime"
)

// BenchmarkWriter emits a typical request event (an API key's allowed
// request) through a Writer to one sink, from one goroutine. cpu-ns/op is
// the CPU time of the whole process per event up to the Writer's Close
// (on unix): Emit, the Writer's goroutine, the sink and the garbage
// collector; events/s/core is its inverse.
func BenchmarkWriter(b *testing.B) {
	memory := func(*testing.B) audit.Sink { return audit.NewMemorySink(10000) }
	for _, tc := range []struct {
		name  string
		sink  func(b *testing.B) audit.Sink
		batch int // BatchSize; 0 for the default
	}{
		{"memory", memory, 0},
		// Batches far smaller than the queue: a batch is taken from a
		// queue that stays full.
		{"memory-batch16", memory, 16},
		{"file", func(b *testing.B) audit.Sink {
			s, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(b.TempDir(), "audit.jsonl")})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{tc.sink(b)}, BatchSize: tc.batch})
			e := audit.Event{Time: time.Now().UTC(), RequestID: "K7GQ2XHRTLNM3WZPA5BCDEFJUV", IP: "192.0.2.1",
				Method: "GET", Path: "/v1/orders", Route: "GET /v1/orders", Status: 200, LatencyMS: 0.012,
				AuthMethod: "api_key", KeyID: "bk_test_pk_0123456789", Account: "acct_1", Mode: "test",
				Store: "store_1", Decision: audit.Allow, Reason: "ok"}
			ctx := context.Background()
			cpu0, measured := cputime.Process()
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Emit(ctx, e, audit.Block); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if st := w.Stats(); st.Written != st.Emitted {
				b.Fatalf("Stats %+v: not every event written", st)
			}
			if cpu1, ok := cputime.Process(); ok && measured {
				perEvent := float64(cpu1-cpu0) / float64(b.N)
				b.ReportMetric(perEvent, "cpu-ns/op")
				b.ReportMetric(1e9/perEvent, "events/s/core")
			}
		})
	}
}

// BenchmarkWriterGC shows what a Writer's buffers cost the garbage
// collector: each op is a collection (runtime.GC) while a Writer to a
// MemorySink is live, before any event ("idle") and after a burst of
// events with strings of their own has been written ("burst"), when its
// queue and batch buffers have their full size, and with buffers of 512
// events instead of the default 4096. ns/op is the marking a
// cycle does; scan-B is the heap the collector must scan for pointers
// (runtime/metrics /gc/scan/heap:bytes).
func BenchmarkWriterGC(b *testing.B) {
	for _, tc := range []struct {
		name  string
		burst int
		size  int // QueueSize and BatchSize; 0 for the defaults
	}{
		{"idle", 0, 0},
		{"burst", 4 * audit.DefaultQueueSize, 0},
		{"burst-size512", 4 * audit.DefaultQueueSize, 512},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{audit.NewMemorySink(10000)},
				QueueSize: tc.size, BatchSize: tc.size})
			at := time.Now().UTC()
			for i := range tc.burst {
				e := audit.Event{Time: at, RequestID: fmt.Sprintf("K7GQ2XHRTLNM3WZPA5B%07d", i), Method: "GET",
					Path: fmt.Sprintf("/v1/orders/%d", i), UserAgent: strings.Clone("load/1.0"), Decision: audit.Allow}
				if err := w.Emit(ctx, e, audit.Block); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
			metrics.Read(s)
			for b.Loop() {
				runtime.GC()
			}
			b.ReportMetric(float64(s[0].Value.Uint64()), "scan-B")
			if err := w.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
