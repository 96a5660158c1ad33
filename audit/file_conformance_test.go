package audit_test

import (
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/audittest"
)

func openTestFile(t *testing.T) *audit.FileSink {
	t.Helper()
	f, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(t.TempDir(), "audit.jsonl"), Sync: audit.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestFileSinkConformance(t *testing.T) {
	audittest.TestSink(t, func(t *testing.T) audit.Sink { return openTestFile(t) })
}

func TestFileHistoryConformance(t *testing.T) {
	audittest.TestHistory(t, func(t *testing.T) audittest.HistorySink { return openTestFile(t) })
}
