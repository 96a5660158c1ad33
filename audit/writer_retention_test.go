package audit_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keygate/keygate/audit"
)

// heapAlloc returns the live heap after two collections.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestWriterIdleRetention: after a burst of large events is written and
// the Writer goes idle, it must not keep the burst's room alive: neither
// the batch's records buffer (filled, so not "spare") nor the queue's
// (swapped back, empty), which stayed until a few more batches were
// written. (A FileSink keeps its largest batch's lines, as it did before
// the Writer encoded its events.)
func TestWriterIdleRetention(t *testing.T) {
	for _, name := range []string{"memory", "file"} {
		// In a bubble, so that synctest.Wait below returns once the
		// Writer's goroutine waits, idle, for the next event.
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				var sink audit.Sink = audit.NewMemorySink(1) // keeps one event
				if name == "file" {
					f, err := audit.OpenFile(audit.FileConfig{Path: t.TempDir() + "/a.jsonl", Sync: audit.SyncNever})
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					sink = f
				}
				const queue, size = 64, 1 << 20
				w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, QueueSize: queue, BatchSize: queue, FlushInterval: time.Hour})
				defer w.Close(ctx)
				base := heapAlloc()
				big := strings.Repeat("p", size)
				// Two bursts of full queues, then idle.
				for range 2 * queue {
					if err := w.Emit(ctx, audit.Event{Time: time.Now().UTC(), Path: big}, audit.Block); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				got := heapAlloc()
				retained := int64(got) - int64(base)
				t.Logf("retained after idle: %d MiB (burst %d MiB)", retained>>20, queue*size>>20)
				// The sink keeps one event; a FileSink also its largest batch's
				// lines.
				limit := int64(8 << 20)
				if name == "file" {
					limit += queue * size // FileSink.buf keeps its largest batch's lines
				}
				if retained > limit {
					t.Fatalf("Writer keeps %d MiB after a burst of %d MiB, idle", retained>>20, queue*size>>20)
				}
			})
		})
	}
}
