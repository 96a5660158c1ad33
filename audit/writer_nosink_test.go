package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// TestWriterNoSinks: a Writer without sinks (encoded, no records read)
// counts every event written, a gap marker's drops as dropped.
func TestWriterNoSinks(t *testing.T) {
	ctx := context.Background()
	w := audit.NewWriter(audit.WriterConfig{QueueSize: 4, BatchSize: 2, FlushInterval: time.Millisecond})
	for i := range 1000 {
		_ = w.Emit(ctx, audit.Event{Time: time.Now().In(time.FixedZone("Z", i)), RequestID: "r"}, audit.Drop)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Emitted != 1000 {
		t.Fatalf("Stats %+v", st)
	}
}
