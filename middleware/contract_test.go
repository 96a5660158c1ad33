package middleware_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/ratelimit"
)

// auditOrders are the ways a service may combine Audit and Require on a
// route; each must record the same single event per request.
var auditOrders = []struct {
	name string
	wrap func(auth *middleware.Authenticator, rule middleware.Rule, h http.Handler) http.Handler
}{
	{"Audit(mux with Require)", func(auth *middleware.Authenticator, rule middleware.Rule, h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /v1/orders", auth.Require(rule)(h))
		return auth.Audit(mux)
	}},
	{"Audit(Require(h))", func(auth *middleware.Authenticator, rule middleware.Rule, h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /v1/orders", auth.Audit(auth.Require(rule)(h)))
		return mux
	}},
	{"Require(Audit(h))", func(auth *middleware.Authenticator, rule middleware.Rule, h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /v1/orders", auth.Require(rule)(auth.Audit(h)))
		return mux
	}},
	{"Require(h) alone", func(auth *middleware.Authenticator, rule middleware.Rule, h http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("GET /v1/orders", auth.Require(rule)(h))
		return mux
	}},
}

// TestAuditOutcomeInEveryOrder: whichever way Audit and Require are
// combined, a request that is allowed, refused for a permission, refused
// for a bad credential or rate limited is recorded by one event, with its
// decision, reason, caller, status and route.
func TestAuditOutcomeInEveryOrder(t *testing.T) {
	m := newKeyManager(t)
	writer := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Permissions: []string{"orders:write"}}})
	reader := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Permissions: []string{"orders:read"}}})
	limited := mkKey(t, m, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_limited", Permissions: []string{"orders:write"}}})
	rule := middleware.Rule{Permission: "orders:write"}
	type want struct {
		status          int
		decision        audit.Decision
		reason          string
		method, account string
		keyID           bool
	}
	cases := []struct {
		name string
		keys []string // earlier requests first; the last one is checked
		want want
	}{
		{"allowed", []string{writer}, want{200, audit.Allow, "ok", "api_key", "acct_1", true}},
		{"refused by permission", []string{reader}, want{403, audit.Deny, "insufficient_scope", "api_key", "acct_1", true}},
		{"bad credential", []string{corrupt(writer)}, want{401, audit.Deny, "invalid_token", "", "", false}},
		{"rate limited", []string{limited, limited}, want{429, audit.Deny, "rate_limited", "api_key", "acct_limited", true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var first *audit.Event
			for _, order := range auditOrders {
				sink := audit.NewMemorySink(10)
				w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
				auth, err := middleware.New(middleware.Config{
					APIKeys: m,
					Access: middleware.AccessConfig{RateLimit: func(p keygate.Principal) ratelimit.Policy {
						if p.Account == "acct_limited" {
							return ratelimit.Policy{Name: "one", Limit: 1, Window: time.Hour}
						}
						return ratelimit.Policy{}
					}},
					Audit: middleware.AuditConfig{Writer: w},
				})
				require.NoError(t, err)
				h := order.wrap(auth, rule, principalJSON)
				var rec interface{ Result() *http.Response }
				for _, key := range tc.keys {
					rec = serve(h, areq{path: "/v1/orders", key: key, remote: "192.0.2.7:1"})
				}
				require.Equal(t, tc.want.status, rec.Result().StatusCode, order.name)
				require.NoError(t, w.Close(context.Background()))
				events := sink.Events()
				require.Len(t, events, len(tc.keys), "%s: one event per request", order.name)
				e := events[len(events)-1]
				assert.Equal(t, tc.want.status, e.Status, order.name)
				assert.Equal(t, tc.want.decision, e.Decision, order.name)
				assert.Equal(t, tc.want.reason, e.Reason, order.name)
				assert.Equal(t, tc.want.method, e.AuthMethod, order.name)
				assert.Equal(t, tc.want.account, e.Account, order.name)
				assert.Equal(t, tc.want.keyID, e.KeyID != "", order.name)
				assert.Equal(t, "GET /v1/orders", e.Route, order.name)
				assert.Equal(t, "192.0.2.7", e.IP, order.name)
				e.Seq, e.Time, e.LatencyMS, e.RequestID = 0, time.Time{}, 0, ""
				if first == nil {
					first = &e
					continue
				}
				assert.Equal(t, *first, e, "%s records what %s does", order.name, auditOrders[0].name)
			}
		})
	}
}

// TestStreamingBehindTheChain: a server-sent events handler behind Audit
// and Require streams: the client reads the first event while the handler
// still waits to write the second. The handler reaches the connection's
// own controls through http.ResponseController (Unwrap) too.
func TestStreamingBehindTheChain(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{})
	for _, order := range auditOrders {
		t.Run(order.name, func(t *testing.T) {
			sink := audit.NewMemorySink(10)
			w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
			auth, err := middleware.New(middleware.Config{APIKeys: m, Audit: middleware.AuditConfig{Writer: w}})
			require.NoError(t, err)
			proceed := make(chan struct{})
			events := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				// Supported only by the server's own writer: reached
				// through Unwrap.
				if err := rc.SetWriteDeadline(time.Time{}); err != nil {
					http.Error(w, "SetWriteDeadline: "+err.Error(), http.StatusInternalServerError)
					return
				}
				f, ok := w.(http.Flusher)
				if !ok {
					http.Error(w, "not a Flusher", http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: one\n\n")
				f.Flush()
				<-proceed
				io.WriteString(w, "data: two\n\n")
				if err := rc.Flush(); err != nil {
					io.WriteString(w, "data: "+err.Error()+"\n\n")
				}
			})
			var served sync.WaitGroup
			srv := newServer(t, &served, order.wrap(auth, middleware.Rule{}, events))
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/orders", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+sk)
			res, err := srv.Client().Do(req)
			if err != nil {
				close(proceed)
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				close(proceed)
				body, _ := io.ReadAll(res.Body)
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			br := bufio.NewReader(res.Body)
			firstEvent, err := readEvent(br)
			close(proceed) // only now may the handler write the second event
			require.NoError(t, err)
			assert.Equal(t, "data: one\n\n", firstEvent)
			rest, err := io.ReadAll(br)
			require.NoError(t, err)
			assert.Equal(t, "data: two\n\n", string(rest))
			served.Wait()

			require.NoError(t, w.Close(context.Background()))
			got := sink.Events()
			require.Len(t, got, 1)
			assert.Equal(t, audit.Allow, got[0].Decision)
			assert.Equal(t, 200, got[0].Status)
			assert.Equal(t, int64(len("data: one\n\ndata: two\n\n")), got[0].Bytes)
		})
	}
}

// readEvent reads one server-sent event, up to and including its blank
// line.
func readEvent(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\n" {
			return b.String(), nil
		}
	}
}

// newServer serves h; served.Wait returns once every request h got has
// returned (and so Audit has emitted its event).
func newServer(t *testing.T, served *sync.WaitGroup, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		defer served.Done()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTypedNilsInConfig: a nil pointer in an interface field of Config
// means "none", as a nil interface does, instead of a value whose methods
// panic on the first request.
func TestTypedNilsInConfig(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{})

	t.Run("Metrics", func(t *testing.T) {
		sink := audit.NewMemorySink(10)
		w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
		auth, err := middleware.New(middleware.Config{APIKeys: m, Audit: middleware.AuditConfig{Writer: w, Metrics: (*countedMetrics)(nil)}})
		require.NoError(t, err)
		rec := serve(auth.Handler(principalJSON), areq{key: sk})
		assert.Equal(t, http.StatusOK, rec.Code)
		require.NoError(t, w.Close(context.Background()))
		assert.Len(t, sink.Events(), 1, "the Writer still records")

		auth, err = middleware.New(middleware.Config{APIKeys: m, Audit: middleware.AuditConfig{Metrics: (*countedMetrics)(nil)}})
		require.NoError(t, err)
		h := &sameHandler{}
		assert.Same(t, h, auth.Audit(h), "a nil *T Metrics is no Metrics")
	})

	t.Run("verifiers", func(t *testing.T) {
		_, err := middleware.New(middleware.Config{APIKeys: (*apikey.Manager)(nil)})
		assert.Error(t, err, "a nil *apikey.Manager is no verifier")
		_, err = middleware.New(middleware.Config{Tokens: (*jwt.Verifier)(nil), Signatures: (*httpsig.Verifier)(nil)})
		assert.Error(t, err)

		auth, err := middleware.New(middleware.Config{APIKeys: m, Tokens: (*jwt.Verifier)(nil), Signatures: (*httpsig.Verifier)(nil), Accounts: nil})
		require.NoError(t, err)
		rec := serve(auth.Handler(principalJSON), areq{key: "a.b.c"})
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "no token verifier: taken for an API key, refused")
		rec = serve(auth.Handler(principalJSON), areq{header: http.Header{"Signature-Input": {`sig=("@method");keyid="hk_1"`}, "Signature": {"sig=:AAAA:"}}})
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "no signature verifier: signed requests refused")
	})
}

// headerVerifier is a RequestVerifier that requires the headers it lists.
type headerVerifier []string

func (headerVerifier) Verify(*http.Request) (httpsig.Active, error) {
	return httpsig.Active{}, httpsig.ErrInvalidSignature
}

func (v headerVerifier) RequiresHeader(name string) bool {
	for _, h := range v {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// TestStoreHeaderMustBeSigned: every RequestVerifier says which headers it
// requires, and New refuses one that does not require the store header,
// whatever the header is called.
func TestStoreHeaderMustBeSigned(t *testing.T) {
	for _, tc := range []struct {
		required    headerVerifier
		storeHeader string
		ok          bool
	}{
		{headerVerifier{"x-store-id"}, "", true},
		{headerVerifier{}, "", false},
		{headerVerifier{"X-Store-Id"}, "X-Tenant", false},
		{headerVerifier{"x-tenant"}, "X-Tenant", true},
	} {
		_, err := middleware.New(middleware.Config{Signatures: tc.required, StoreHeader: tc.storeHeader})
		if tc.ok {
			assert.NoError(t, err, "%v %q", tc.required, tc.storeHeader)
		} else {
			assert.ErrorContains(t, err, "RequiredHeaders", "%v %q", tc.required, tc.storeHeader)
		}
	}
}

// sharedKeys is a KeyVerifier that returns the same record, with the same
// slices, every time, as a cache may.
type sharedKeys struct{ rec apikey.Record }

func (s sharedKeys) Verify(context.Context, string) (apikey.Record, error) { return s.rec, nil }

// sharedTokens is a TokenVerifier that returns the same claims every time.
type sharedTokens struct{ c jwt.Claims }

func (s sharedTokens) Verify(context.Context, string) (jwt.Claims, error) { return s.c, nil }

// TestVerifierResultsAreCopied: whichever verifier vouched for a caller,
// the handler's Principal has its own stores, so that a handler changing
// them does not change what the verifier (or its cache) holds.
func TestVerifierResultsAreCopied(t *testing.T) {
	signed := http.Header{"Signature-Input": {`sig=("@method");keyid="hk_1"`}, "Signature": {"sig=:AAAA:"}}
	for _, tc := range []struct {
		name   string
		cfg    func(stores []string) middleware.Config
		key    string
		header http.Header
	}{
		{"API key", func(stores []string) middleware.Config {
			return middleware.Config{APIKeys: sharedKeys{apikey.Record{ID: "key_1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: stores}, Kind: keygate.KindSecret}}}
		}, "bk_test_sk_x", nil},
		{"access token", func(stores []string) middleware.Config {
			return middleware.Config{Tokens: sharedTokens{jwt.Claims{ID: "tok_1", ClientID: "key_1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: stores}, ClientKind: keygate.KindSecret}}}
		}, "a.b.c", nil},
		{"signed request", func(stores []string) middleware.Config {
			return middleware.Config{Signatures: stubSignatures{httpsig.Active{KeyID: "hk_1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Stores: stores}}}}
		}, "", signed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores := []string{"store_1", "store_2"}
			auth, err := middleware.New(tc.cfg(stores))
			require.NoError(t, err)
			h := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := keygate.FromContext(r.Context())
				if len(p.Stores) > 0 {
					p.Stores[0] = "changed_by_handler"
				}
				fmt.Fprint(w, len(p.Stores))
			}))
			rec := serve(h, areq{key: tc.key, header: tc.header})
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, "2", rec.Body.String())
			assert.Equal(t, []string{"store_1", "store_2"}, stores, "the verifier's stores are unchanged")
		})
	}
}

// TestConfigNow: the Authenticator reads every time from Config.Now: the
// audit event's time and latency come from it.
func TestConfigNow(t *testing.T) {
	m := newKeyManager(t)
	sk := mkKey(t, m, apikey.CreateParams{})
	var (
		mu  sync.Mutex
		now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sink := audit.NewMemorySink(10)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	auth, err := middleware.New(middleware.Config{APIKeys: m, Now: clock, Audit: middleware.AuditConfig{Writer: w}})
	require.NoError(t, err)
	h := auth.Audit(auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now = now.Add(1500 * time.Millisecond) // the handler takes 1.5s of the clock
		mu.Unlock()
	})))
	rec := serve(h, areq{key: sk})
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, w.Close(context.Background()))
	events := sink.Events()
	require.Len(t, events, 1)
	assert.Equal(t, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), events[0].Time)
	assert.Equal(t, 1500.0, events[0].LatencyMS)
}
