package middleware_test

import (
	"context"
	"path/filepath"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/cputime"
	"github.com/keygate/keygate/middleware"
)

// BenchmarkAuditedAPIKeyMiddleware is BenchmarkAPIKeyMiddleware behind
// Authenticator.Audit, with the events going to memory or to a JSON Lines
// file ("off": the same Authenticator without a Writer, the baseline).
// The writer encodes and writes on its own goroutine: ns/op shows the
// request path only on more than one CPU. cpu-ns/op is the CPU time of
// the whole process per request, the writer's work and the garbage
// collector's included, up to the writer's Close (on unix): what a
// request costs a server pinned to one CPU, also where -cpu is above 1.
// gc-ns/op is the runtime's estimate of its garbage collector's share.
func BenchmarkAuditedAPIKeyMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name string
		sink func(b *testing.B) audit.Sink
	}{
		{"off", nil},
		{"memory", func(*testing.B) audit.Sink { return audit.NewMemorySink(10000) }},
		{"file", func(b *testing.B) audit.Sink {
			s, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(b.TempDir(), "audit.jsonl")})
			require.NoError(b, err)
			b.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := newPlainFixture(b)
			var w *audit.Writer
			if tc.sink != nil {
				w = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{tc.sink(b)}})
			}
			auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Audit: middleware.AuditConfig{Writer: w}})
			require.NoError(b, err)
			gc0 := gcCPU()
			cpu0, measured := cputime.Process()
			benchmarkHandler(b, auth.Audit(auth.Handler(usesPrincipal)), f.testSK)
			b.StopTimer()
			if w != nil {
				require.NoError(b, w.Close(context.Background()))
				st := w.Stats()
				require.Equal(b, st.Emitted, st.Written, "every event written")
			}
			if cpu1, ok := cputime.Process(); ok && measured {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(gcCPU()-gc0)/float64(b.N), "gc-ns/op")
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
