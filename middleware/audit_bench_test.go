package middleware_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/middleware"
)

// BenchmarkAuditedAPIKeyMiddleware is BenchmarkAPIKeyMiddleware behind
// Authenticator.Audit, with the events going to memory or to a JSON Lines
// file. The writer encodes and writes on its own goroutine: ns/op shows
// the request path only, and a CPU profile (-cpuprofile) shows both.
func BenchmarkAuditedAPIKeyMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name string
		sink func(b *testing.B) audit.Sink
	}{
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
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{tc.sink(b)}})
			auth, err := middleware.New(middleware.Config{APIKeys: f.keys, Audit: middleware.AuditConfig{Writer: w}})
			require.NoError(b, err)
			benchmarkHandler(b, auth.Audit(auth.Handler(usesPrincipal)), f.testSK)
			b.StopTimer()
			require.NoError(b, w.Close(context.Background()))
			st := w.Stats()
			require.Equal(b, st.Emitted, st.Written, "every event written")
		})
	}
}
