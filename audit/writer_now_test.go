package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// blockingSink holds its first write until release is closed, telling
// entered when it starts, and keeps what it is given.
type blockingSink struct {
	entered chan struct{}
	release chan struct{}
	mem     *audit.MemorySink
}

func (s *blockingSink) Write(ctx context.Context, b []audit.Event) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.mem.Write(ctx, b)
}

// TestWriterNow: the gap marker, the one time the Writer records itself,
// comes from WriterConfig.Now.
func TestWriterNow(t *testing.T) {
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	sink := &blockingSink{entered: make(chan struct{}, 1), release: make(chan struct{}), mem: audit.NewMemorySink(10)}
	w := audit.NewWriter(audit.WriterConfig{
		Sinks: []audit.Sink{sink}, QueueSize: 1, BatchSize: 1, FlushInterval: time.Millisecond,
		Now: func() time.Time { return at.In(time.FixedZone("X", 3600)) },
	})
	ctx := context.Background()
	if err := w.Emit(ctx, audit.Event{RequestID: "r1"}, audit.Drop); err != nil {
		t.Fatal(err)
	}
	<-sink.entered // event 1 is being written; the queue is empty
	if err := w.Emit(ctx, audit.Event{RequestID: "r2"}, audit.Drop); err != nil {
		t.Fatal(err)
	}
	if err := w.Emit(ctx, audit.Event{RequestID: "r3"}, audit.Drop); !errors.Is(err, audit.ErrDropped) {
		t.Fatalf("Emit into a full queue = %v, want ErrDropped", err)
	}
	close(sink.release)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	events := sink.mem.Events()
	if len(events) != 3 || events[1].Gap != 1 {
		t.Fatalf("events %+v, want event 1, a gap of 1, event 2", events)
	}
	if !events[1].Time.Equal(at) || events[1].Time.Location() != time.UTC {
		t.Fatalf("gap marker at %v, want %v from WriterConfig.Now, in UTC", events[1].Time, at)
	}
}
