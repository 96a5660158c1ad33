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
	"github.com/keygate/keygate/internal/cputime"
)

// benchRequest stands for the garbage a request leaves: a few small
// objects with pointers, about 1 KiB.
type benchRequest struct {
	method, path, agent string
	header              map[string][]string
	body                []byte
	next                *benchRequest
}

var benchSinkRequest *benchRequest

// BenchmarkMemorySinkGC shows what a full MemorySink(10000), as the load
// server keeps, costs the garbage collector of a process that allocates:
// each op makes the garbage of a request while the sink is live. cpu-ns/op
// is the CPU time of the whole process per op (on unix), the collector's
// included; gc-ns/op is the runtime's estimate of the collector's share.
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
			gc0 := gcCPU()
			cpu0, measured := cputime.Process()
			b.ReportAllocs()
			for b.Loop() {
				r := &benchRequest{method: "GET", path: "/v1/orders", agent: "load/1.0",
					header: map[string][]string{"Authorization": {"Bearer x"}, "Accept": {"*/*"}},
					body:   make([]byte, 512), next: benchSinkRequest}
				r.next = nil
				benchSinkRequest = r
			}
			b.StopTimer()
			if cpu1, ok := cputime.Process(); ok && measured {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(gcCPU()-gc0)/float64(b.N), "gc-ns/op")
			runtime.KeepAlive(m)
		})
	}
}

// gcCPU is the runtime's estimate of the CPU time its garbage collector
// has used.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return time.Duration(s[0].Value.Float64() * 1e9)
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
