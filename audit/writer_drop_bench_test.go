package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// BenchmarkEmitDropFull: Emit under Drop when the queue is full
// (the sink fails: a closed FileSink), as under overload.
func BenchmarkEmitDropFull(b *testing.B) {
	f, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(b.TempDir(), "a"), Sync: audit.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{f}, QueueSize: 1, BatchSize: 1})
	ctx := context.Background()
	e := audit.Event{Time: time.Now().UTC(), RequestID: "01234567890123456789012345", IP: "192.0.2.1", Method: "GET", Path: "/v1/orders/123", Route: "GET /v1/orders/{id}", Status: 200, LatencyMS: 1.25, UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", Headers: map[string]string{"Accept": "*/*"}, AuthMethod: "api_key", KeyID: "bk_test_pk_0123456789", Decision: audit.Allow, Reason: "ok"}
	_ = w.Emit(ctx, e, audit.Drop)
	time.Sleep(20 * time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		_ = w.Emit(ctx, e, audit.Drop)
	}
	b.StopTimer()
	c, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	_ = w.Close(c)
}
