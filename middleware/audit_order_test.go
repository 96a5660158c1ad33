package middleware_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// TestAuditWhicheverOrder wraps the same route with Audit outside
// Require, Audit inside Require, and Require alone (auditing configured),
// and checks that each records exactly one event per request, the same
// event in each.
func TestAuditWhicheverOrder(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Stores: []string{"store_1"}}})
	pk := mkKey(t, m, apikey.CreateParams{Kind: keygate.KindPublishable})
	limited := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_limited"}})
	rule := middleware.Rule{}
	build := map[string]func(auth *middleware.Authenticator, h http.Handler) http.Handler{
		"Audit(mux with Require)": func(auth *middleware.Authenticator, h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /v1/orders", auth.Require(rule)(h))
			return auth.Audit(mux)
		},
		"Audit(Require(h))": func(auth *middleware.Authenticator, h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /v1/orders", auth.Audit(auth.Require(rule)(h)))
			return mux
		},
		"Require(Audit(h))": func(auth *middleware.Authenticator, h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /v1/orders", auth.Require(rule)(auth.Audit(h)))
			return mux
		},
		"Require(h) alone": func(auth *middleware.Authenticator, h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /v1/orders", auth.Require(rule)(h))
			return mux
		},
	}
	calls := []struct {
		key    string
		status int
	}{
		{sk, 200},
		{"", 401},
		{corrupt(sk), 401},
		{pk, 403},
		{limited, 200},
		{limited, 429},
	}
	recorded := map[string][]audit.Event{}
	for name, wrap := range build {
		sink := audit.NewMemorySink(100)
		w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
		metrics := &recordedMetrics{}
		auth, err := middleware.New(middleware.Config{
			APIKeys: m,
			Access: middleware.AccessConfig{RateLimit: func(p keygate.Principal) ratelimit.Policy {
				if p.Account == "acct_limited" {
					return ratelimit.Policy{Name: "one", Limit: 1, Window: time.Hour}
				}
				return ratelimit.Policy{}
			}},
			Audit: middleware.AuditConfig{Writer: w, Metrics: metrics, TrustRequestID: true},
		})
		require.NoError(t, err)
		h := wrap(auth, principalJSON)
		for i, c := range calls {
			rec := serve(h, areq{path: "/v1/orders", key: c.key, remote: "192.0.2.7:1", header: http.Header{"X-Request-Id": {"req-" + strconv.Itoa(i)}}})
			require.Equal(t, c.status, rec.Code, "%s: call %d", name, i)
			assert.Equal(t, "req-"+strconv.Itoa(i), rec.Header().Get("X-Request-Id"), "%s: call %d", name, i)
		}
		require.NoError(t, w.Close(context.Background()))
		events := sink.Events()
		require.Len(t, events, len(calls), "%s: exactly one event per request", name)
		require.Len(t, metrics.all(), len(calls), "%s: exactly one metric per request", name)
		for i := range events {
			e := &events[i]
			e.Seq, e.Time, e.LatencyMS = 0, time.Time{}, 0
		}
		recorded[name] = events
	}
	want := recorded["Audit(mux with Require)"]
	assert.Equal(t, "api_key", want[0].AuthMethod)
	assert.Equal(t, "store_1", want[0].Store)
	assert.Equal(t, "GET /v1/orders", want[0].Route)
	assert.Equal(t, "api_key", want[3].AuthMethod, "authenticated, then refused")
	assert.Equal(t, "rate_limited", want[5].Reason)
	for name, events := range recorded {
		assert.Equal(t, want, events, name)
	}
}

// TestAuditResponseWriterInterfaces checks that a handler behind Audit
// can still flush, hijack and io.Copy into the response.
func TestAuditResponseWriterInterfaces(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{})
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{APIKeys: m, Audit: middleware.AuditConfig{Writer: w}})
	require.NoError(t, err)
	body := strings.Repeat("x", 10000)
	mux := http.NewServeMux()
	auth.Mount(mux, []middleware.Route{
		{Pattern: "GET /flush", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f, ok := w.(http.Flusher)
			if !ok {
				http.Error(w, "not a Flusher", http.StatusInternalServerError)
				return
			}
			io.WriteString(w, "part")
			f.Flush()
		})},
		{Pattern: "GET /copy", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := w.(io.ReaderFrom); !ok {
				http.Error(w, "not a ReaderFrom", http.StatusInternalServerError)
				return
			}
			io.Copy(w, strings.NewReader(body))
		})},
		{Pattern: "GET /hijack", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hj, ok := w.(http.Hijacker)
			if !ok {
				http.Error(w, "not a Hijacker", http.StatusInternalServerError)
				return
			}
			conn, buf, err := hj.Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			buf.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
			buf.Flush()
		})},
	})
	h := auth.Audit(mux)

	rec := serve(h, areq{path: "/flush", key: sk})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.True(t, rec.Flushed)

	rec = serve(h, areq{path: "/copy", key: sk})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, body, rec.Body.String())

	// The client may read the hijacked response before the handler (and
	// so Audit, which emits the event after it) has returned: wait for it.
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/hijack", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+sk)
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	<-served

	require.NoError(t, w.Close(context.Background()))
	events := sink.Events()
	require.Len(t, events, 3)
	assert.Equal(t, int64(len("part")), events[0].Bytes)
	assert.Equal(t, int64(len(body)), events[1].Bytes, "io.Copy's bytes are counted")
}
