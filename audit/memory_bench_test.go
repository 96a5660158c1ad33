package audit_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// BenchmarkMemorySinkGC shows what a full MemorySink(10000), as the load
// server keeps, costs the garbage collector: each op is a collection
// (runtime.GC) while the sink is live, so ns/op is the marking a cycle
// does for it, which a server pays at every cycle; scan-B is the heap the
// collector must scan for pointers (runtime/metrics /gc/scan/heap:bytes).
// "empty" is the same sink holding nothing: the difference is the cost of
// the events held.
func BenchmarkMemorySinkGC(b *testing.B) {
	for _, n := range []int{0, 10000} {
		name := "empty"
		if n > 0 {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			m := audit.NewMemorySink(10000)
			at := time.Now().UTC()
			for i := range n {
				// The strings of a request event are the request's own.
				e := audit.Event{Time: at, RequestID: fmt.Sprintf("K7GQ2XHRTLNM3WZPA5B%07d", i), IP: "192.0.2.1",
					Method: "GET", Path: fmt.Sprintf("/v1/orders/%d", i), Route: "GET /v1/orders/{id}", Status: 200,
					LatencyMS: 0.012, UserAgent: strings.Clone("Mozilla/5.0 (X11; Linux x86_64) load/1.0"),
					AuthMethod: "api_key", KeyID: fmt.Sprintf("bk_test_pk_%010d", i%100), Account: "acct_1",
					Mode: "test", Store: "store_1", Decision: audit.Allow, Reason: "ok"}
				if err := m.Write(context.Background(), []audit.Event{e}); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
			metrics.Read(s)
			for b.Loop() {
				runtime.GC()
			}
			b.ReportMetric(float64(s[0].Value.Uint64()), "scan-B")
			runtime.KeepAlive(m)
		})
	}
}

// BenchmarkMemorySinkRead reads a full MemorySink(10000) as the admin
// console does: the newest page, a filter that scans every event for a few,
// and a summary of them all.
func BenchmarkMemorySinkRead(b *testing.B) {
	ctx := context.Background()
	m := audit.NewMemorySink(10000)
	at := time.Now().UTC()
	for i := range 10000 {
		e := audit.Event{Time: at.Add(time.Duration(i) * time.Millisecond), RequestID: fmt.Sprintf("r%d", i), IP: "192.0.2.1",
			Method: "GET", Path: "/v1/orders", Status: 200, UserAgent: "load/1.0", AuthMethod: "api_key",
			KeyID: fmt.Sprintf("k%d", i%1000), Account: "acct_1", Mode: "test", Decision: audit.Allow, Reason: "ok",
			Headers: map[string]string{"Accept": "*/*"}}
		if err := m.Write(ctx, []audit.Event{e}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("page", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p, err := m.Query(ctx, audit.Query{}); err != nil || len(p.Events) != audit.DefaultQueryLimit {
				b.Fatal(len(p.Events), err)
			}
		}
	})
	b.Run("filter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p, err := m.Query(ctx, audit.Query{KeyID: "k7"}); err != nil || len(p.Events) != 10 {
				b.Fatal(len(p.Events), err)
			}
		}
	})
	b.Run("summary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Summarize(ctx, audit.SummaryQuery{Bucket: time.Second}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
