package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/audittest"
)

func TestMemorySinkConformance(t *testing.T) {
	audittest.TestSink(t, func(*testing.T) audit.Sink { return audit.NewMemorySink(2000) })
}

func TestMemorySinkHistory(t *testing.T) {
	audittest.TestHistory(t, func(*testing.T) audittest.HistorySink { return audit.NewMemorySink(2000) })
}

func TestMemorySinkRing(t *testing.T) {
	ctx := context.Background()
	m := audit.NewMemorySink(5)
	for i := range 12 {
		if err := m.Write(ctx, []audit.Event{{RequestID: fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	got := m.Events()
	if len(got) != 5 {
		t.Fatalf("%d events held, want 5", len(got))
	}
	for i, e := range got {
		if e.Seq != uint64(8+i) || e.RequestID != fmt.Sprint(7+i) {
			t.Fatalf("event %d = seq %d %q, want seq %d %q", i, e.Seq, e.RequestID, 8+i, fmt.Sprint(7+i))
		}
	}
	p, err := m.Query(ctx, audit.Query{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 2 || p.Events[0].Seq != 12 || p.Events[1].Seq != 11 {
		t.Fatalf("page %+v", p)
	}
	// Walking past the oldest event held ends the walk.
	var n int
	for q := (audit.Query{Limit: 2}); ; {
		p, err := m.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Events)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if n != 5 {
		t.Fatalf("walked %d events, want 5", n)
	}
}

func TestMemorySinkCopies(t *testing.T) {
	ctx := context.Background()
	m := audit.NewMemorySink(10)
	h := map[string]string{"Content-Type": "text/plain"}
	batch := []audit.Event{{RequestID: "a", Headers: h}}
	if err := m.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	h["Content-Type"] = "changed"
	got := m.Events()
	got[0].Headers["Content-Type"] = "changed again"
	if m.Events()[0].Headers["Content-Type"] != "text/plain" {
		t.Fatal("the sink shares header maps with its callers")
	}
}

func TestMemorySummarizer(t *testing.T) {
	audittest.TestSummarizer(t, func(*testing.T) audittest.SummarySink { return audit.NewMemorySink(2000) })
}
