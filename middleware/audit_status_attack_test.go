package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/middleware"
)

// TestAuditInformationalStatus: a handler may send 1xx informational
// responses (103 Early Hints, 100 Continue) before its final one; net/http
// sends them and lets WriteHeader be called again. The event must record
// the final status the client got, not the informational one: a request
// refused with 403 after early hints is a deny, not an allow with status
// 103. (101 Switching Protocols is final.)
func TestAuditInformationalStatus(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		status   int
		decision audit.Decision
	}{
		{"103 then 403", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("no"))
		}, http.StatusForbidden, audit.Deny},
		{"103 then body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = w.Write([]byte("ok"))
		}, http.StatusOK, audit.Allow},
		{"100 then 500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusInternalServerError)
		}, http.StatusInternalServerError, audit.Deny},
		{"103 twice then flush", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusEarlyHints)
			http.NewResponseController(w).Flush()
			w.WriteHeader(http.StatusTeapot) // superfluous: the flush sent 200
		}, http.StatusOK, audit.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := audit.NewMemorySink(10)
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
			auth, err := middleware.New(middleware.Config{APIKeys: newKeyManager(t), Audit: middleware.AuditConfig{Writer: w}})
			require.NoError(t, err)
			srv := httptest.NewServer(auth.Audit(tt.handler))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/")
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode, "the client's status")
			srv.Close() // the handler has returned: its event is emitted
			require.NoError(t, w.Close(context.Background()))
			events := sink.Events()
			require.Len(t, events, 1)
			assert.Equal(t, tt.status, events[0].Status, "recorded status")
			assert.Equal(t, tt.decision, events[0].Decision, "recorded decision")
		})
	}
}
