package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

func TestRotateViaWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.jsonl")
	f, err := audit.OpenFile(audit.FileConfig{Path: path, MaxBytes: 2000, MaxBackups: 100, Sync: audit.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{f}, QueueSize: 16, BatchSize: 5, FlushInterval: time.Millisecond})
	for i := range 300 {
		_ = w.Emit(ctx, req(i), audit.Block)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.Close()
	seen := map[uint64]bool{}
	files, _ := filepath.Glob(path + "*")
	for _, p := range files {
		data, _ := os.ReadFile(p)
		for line := range bytes.Lines(data) {
			var e audit.Event
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatal(err)
			}
			if seen[e.Seq] {
				t.Fatalf("seq %d twice", e.Seq)
			}
			seen[e.Seq] = true
		}
	}
	for s := uint64(1); s <= 300; s++ {
		if !seen[s] {
			t.Fatalf("seq %d missing (%d files)", s, len(files))
		}
	}
	t.Logf("%d files", len(files))
}
