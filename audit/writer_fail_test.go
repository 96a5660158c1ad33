package audit_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keygate/keygate/audit"
)

// TestWriterLinesSinkFails: a Writer to two FileSinks (lines), the
// second closed: OnError names sink 1 only (with fs.ErrClosed, or the
// cancellation of a retry by Close), the first file
// holds each event once (the retries are the failing sink's only), and
// Close that gives up counts the batch and the queue as dropped.
func TestWriterLinesSinkFails(t *testing.T) {
	// In a bubble: the sleep below lets the Writer write its first batch
	// and retry the failing sink on the fake clock, whatever the machine's
	// speed.
	synctest.Test(t, testWriterLinesSinkFails)
}

func testWriterLinesSinkFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f1, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(dir, "1"), Sync: audit.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	f2, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(dir, "2"), Sync: audit.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	f2.Close()
	var bad atomic.Int64
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{f1, f2}, QueueSize: 8, BatchSize: 4, FlushInterval: time.Millisecond,
		OnError: func(i int, err error) {
			// The closed sink's error, or the cancellation of its last
			// retry when Close gives up.
			if i != 1 || !errors.Is(err, fs.ErrClosed) && !errors.Is(err, context.Canceled) {
				bad.Add(1)
			}
		}})
	for i := range 6 {
		if err := w.Emit(ctx, req(i), audit.Block); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := w.Close(c); err == nil {
		t.Fatal("Close succeeded")
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Written != 0 || st.Dropped != 6 || bad.Load() != 0 {
		t.Fatalf("Stats %+v, %d bad OnError calls", st, bad.Load())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "1"))
	if n := bytes.Count(data, []byte("\n")); n != 4 {
		t.Fatalf("first file has %d lines, want the first batch's 4 once:\n%s", n, data)
	}
}
