package audit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/audittest"
)

// viaWriter is a HistorySink whose Write goes through a Writer to its
// sinks (this package's: the Writer queues records), and whose Query is
// the first sink's.
type viaWriter struct {
	audittest.HistorySink
	mu sync.Mutex
	w  *audit.Writer
}

func newViaWriter(t *testing.T, sinks ...audittest.HistorySink) *viaWriter {
	ss := make([]audit.Sink, len(sinks))
	for i, s := range sinks {
		ss[i] = s
	}
	v := &viaWriter{HistorySink: sinks[0], w: audit.NewWriter(audit.WriterConfig{Sinks: ss, QueueSize: 64, BatchSize: 16, FlushInterval: time.Millisecond})}
	t.Cleanup(func() { _ = v.w.Close(context.Background()) })
	return v
}

func (v *viaWriter) Write(ctx context.Context, batch []audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.mu.Lock() // batches whole
	defer v.mu.Unlock()
	for _, e := range batch {
		if err := v.w.Emit(ctx, e, audit.Block); err != nil {
			return err
		}
	}
	return v.w.Flush(ctx)
}

func TestConformanceViaWriter(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		audittest.TestSink(t, func(t *testing.T) audit.Sink { return newViaWriter(t, audit.NewMemorySink(2000)) })
		audittest.TestHistory(t, func(t *testing.T) audittest.HistorySink { return newViaWriter(t, audit.NewMemorySink(2000)) })
	})
	t.Run("file", func(t *testing.T) {
		audittest.TestSink(t, func(t *testing.T) audit.Sink { return newViaWriter(t, openTestFile(t)) })
		audittest.TestHistory(t, func(t *testing.T) audittest.HistorySink { return newViaWriter(t, openTestFile(t)) })
	})
	t.Run("file+memory", func(t *testing.T) {
		audittest.TestSink(t, func(t *testing.T) audit.Sink { return newViaWriter(t, openTestFile(t), audit.NewMemorySink(2000)) })
		audittest.TestHistory(t, func(t *testing.T) audittest.HistorySink {
			return newViaWriter(t, openTestFile(t), audit.NewMemorySink(2000))
		})
		audittest.TestHistory(t, func(t *testing.T) audittest.HistorySink {
			return newViaWriter(t, audit.NewMemorySink(2000), openTestFile(t))
		})
	})
}
