package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

func TestAuditRecordsEveryRequest(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Stores: []string{"store_1"}}})
	pk := mkKey(t, m, apikey.CreateParams{Kind: keygate.KindPublishable})
	sink := audit.NewMemorySink(1000)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{
		APIKeys: m,
		Access: middleware.AccessConfig{RateLimit: func(keygate.Principal) ratelimit.Policy {
			return ratelimit.Policy{Name: "t", Limit: 3, Window: time.Hour}
		}},
		Audit: middleware.AuditConfig{Writer: w, TrustRequestID: true},
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	auth.Mount(mux, []middleware.Route{
		{Pattern: "GET /v1/orders", Handler: principalJSON},
		{Pattern: "POST /oauth/token", Public: true, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		})},
	})
	h := auth.Audit(mux)

	type call struct {
		path, key, reqID string
		status           int
		decision         audit.Decision
		reason           string
	}
	calls := []call{
		{"/v1/orders?api_key_hint=1&token=SECRETVALUE", sk, "req-1", 200, audit.Allow, "ok"},
		{"/v1/orders", sk[:len(sk)-1] + "x", "", 401, audit.Deny, "invalid_token"},
		{"/v1/orders", pk, "", 403, audit.Deny, "insufficient_scope"},
		{"/v1/orders", "", "", 401, audit.Deny, "unauthorized"},
		{"/v1/orders", sk, "", 200, audit.Allow, "ok"},
		{"/v1/orders", sk, "", 200, audit.Allow, "ok"},
		{"/v1/orders", sk, "", 429, audit.Deny, "rate_limited"},
		{"/oauth/token", "", "", 401, audit.Deny, "http_401"},
	}
	if sk[len(sk)-1] == 'x' {
		calls[1].key = sk[:len(sk)-1] + "y"
	}
	var ids []string
	for _, c := range calls {
		method := http.MethodGet
		if strings.HasPrefix(c.path, "/oauth") {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, c.path, nil)
		req.RemoteAddr = "192.0.2.10:1234"
		req.Header.Set("User-Agent", "pos-terminal/7\r\ninjected: yes")
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		if c.reqID != "" {
			req.Header.Set("X-Request-Id", c.reqID)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, c.status, rec.Code, c.path)
		require.NotEmpty(t, rec.Header().Get("X-Request-Id"))
		ids = append(ids, rec.Header().Get("X-Request-Id"))
	}
	require.NoError(t, w.Close(context.Background()))
	st := w.Stats()
	assert.Equal(t, uint64(len(calls)), st.Emitted)
	assert.Equal(t, st.Emitted, st.Written+st.Dropped)

	events := sink.Events()
	require.Len(t, events, len(calls), "exactly one event per request")
	for i, e := range events {
		c := calls[i]
		assert.Equal(t, ids[i], e.RequestID)
		assert.Equal(t, c.status, e.Status, "event %d", i)
		assert.Equal(t, c.decision, e.Decision, "event %d", i)
		assert.Equal(t, c.reason, e.Reason, "event %d", i)
		assert.Equal(t, "192.0.2.10", e.IP)
		assert.NotContains(t, e.UserAgent, "\r\n", "control characters escaped")
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		for _, secret := range []string{sk, pk, calls[1].key, "SECRETVALUE"} {
			assert.NotContains(t, string(raw), secret, "event %d", i)
		}
	}
	assert.Equal(t, "req-1", events[0].RequestID, "an incoming X-Request-Id is honoured when trusted")
	assert.Equal(t, "GET /v1/orders", events[0].Route)
	assert.Equal(t, "api_key", events[0].AuthMethod)
	assert.NotEmpty(t, events[0].KeyID)
	assert.Equal(t, "acct_1", events[0].Account)
	assert.Equal(t, "store_1", events[0].Store)
	assert.Equal(t, "test", events[0].Mode)
	assert.Positive(t, events[0].Bytes)
	assert.NotContains(t, events[0].Path, "SECRETVALUE")
}

// TestAuditClientGone checks that a request whose client disconnects
// before the response is still recorded, under the blocking policy: the
// request happened, even though its context is cancelled by then.
func TestAuditClientGone(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{})
	sink := audit.NewMemorySink(10)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{APIKeys: m, Audit: middleware.AuditConfig{Writer: w}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	started := make(chan struct{})
	auth.Mount(mux, []middleware.Route{{Pattern: "GET /v1/slow", Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // returns only once the client has gone
	})}})
	srv := httptest.NewServer(auth.Audit(mux))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/slow", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+sk)
	go func() {
		<-started
		cancel()
	}()
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err)
	srv.Close() // returns once the handler, and so the audit, has finished
	require.Equal(t, uint64(1), w.Stats().Emitted, "the request of a client that went away is recorded")
	require.NoError(t, w.Close(context.Background()))
	events := sink.Events()
	require.Len(t, events, 1)
	assert.Equal(t, "/v1/slow", events[0].Path)
	assert.Equal(t, audit.Allow, events[0].Decision, "authenticated and handled")
}
