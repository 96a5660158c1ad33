package middleware_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/middleware"
)

// TestHMACStaleBodyOrder (review of h-hmac4, the Verifier's clock read
// once the body is whole): over real connections through Require, a
// stale or future-dated signed request within the body limit is refused
// with 401 expired (audited as expired) and reaches no handler; over the
// limit, declared or chunked, with 413 body_too_large (SPEC.md §7, check
// 4 before 5), also reaching no handler.
func TestHMACStaleBodyOrder(t *testing.T) {
	sink := audit.NewMemorySink(100)
	writer := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	s := newHMServer(t, httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, MaxBody: 64}, middleware.Config{Audit: middleware.AuditConfig{Writer: writer}})
	// created is an offset from the clock read just before each request
	// is signed; a future-dated one is 10 s past the skew (300 s), so that
	// the verifier's reading, a moment later, still finds it out of the
	// window (at +301 a reading one second boundary later found it at
	// +300: in the window).
	type tc struct {
		created int64
		size    int
		chunked bool
		status  int
		code    string
	}
	var cases []tc
	for _, chunked := range []bool{false, true} {
		cases = append(cases,
			tc{-301, 64, chunked, 401, "expired"},
			tc{+310, 64, chunked, 401, "expired"},
			tc{-86400, 65, chunked, 413, "body_too_large"},
			tc{+86400, 1 << 20, chunked, 413, "body_too_large"},
			tc{0, 64, chunked, 200, ""},
		)
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("created%+d size=%d chunked=%v", c.created, c.size, c.chunked), func(t *testing.T) {
			before := s.calls.Load()
			w := s.postWire()
			w.body, w.chunked = bytes.Repeat([]byte{'a' + byte(i)}, c.size), c.chunked
			w.setDigest()
			sp := specFor(w)
			sp.setParam("created", time.Now().Unix()+c.created)
			w.sign(t, sp)
			r := s.send(t, w)
			require.Equal(t, c.status, r.status, "%s", r.body)
			if c.status != 200 {
				assert.Equal(t, c.code, r.reply.Error)
				assert.Equal(t, before, s.calls.Load(), "a refused request reached the handler")
			}
		})
	}
	require.NoError(t, writer.Close(context.Background()))
	var reasons []string
	for _, e := range sink.Events() {
		reasons = append(reasons, fmt.Sprint(e.Status, " ", e.Reason))
	}
	// One event per request, in order, with the documented reason.
	require.Len(t, reasons, len(cases))
	for i, c := range cases {
		if c.status != 200 {
			assert.Equal(t, fmt.Sprint(c.status, " ", c.code), reasons[i], "case %d", i)
		}
	}
}
