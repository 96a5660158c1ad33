package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// FuzzQueryCursor feeds arbitrary cursors to both history sinks: an error
// or a page, never a panic, and never an event newer than the cursor
// allows.
func FuzzQueryCursor(f *testing.F) {
	mem := audit.NewMemorySink(100)
	file, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(f.TempDir(), "a.jsonl"), Sync: audit.SyncNever})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = file.Close() })
	batch := make([]audit.Event, 30)
	for i := range batch {
		batch[i] = audit.Event{Time: time.Unix(int64(1_700_000_000+i), 0), Account: "acct_1", Decision: audit.Allow}
	}
	ctx := context.Background()
	for _, s := range []audit.Sink{mem, file} {
		if err := s.Write(ctx, batch); err != nil {
			f.Fatal(err)
		}
	}
	page, _ := mem.Query(ctx, audit.Query{Limit: 5})
	f.Add(page.Next)
	page, _ = file.Query(ctx, audit.Query{Limit: 5})
	f.Add(page.Next)
	f.Add("")
	f.Add("not a cursor")
	f.Fuzz(func(t *testing.T, cursor string) {
		for _, h := range []audit.History{mem, file} {
			page, err := h.Query(ctx, audit.Query{Cursor: cursor, Limit: 10})
			if err != nil {
				continue
			}
			for i := 1; i < len(page.Events); i++ {
				if page.Events[i].Seq >= page.Events[i-1].Seq {
					t.Fatalf("cursor %q: not newest first: %d then %d", cursor, page.Events[i-1].Seq, page.Events[i].Seq)
				}
			}
		}
	})
}
