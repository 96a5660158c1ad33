package auditprom_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/auditprom"
)

func newMetrics(t *testing.T, cfg auditprom.Config) (*auditprom.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	m, err := auditprom.New(cfg)
	require.NoError(t, err)
	return m, reg
}

var observations = []audit.RequestMetric{
	{AuthMethod: "api_key", Decision: audit.Allow, Reason: "ok", Route: "GET /v1/orders", Status: 200, Latency: 500 * time.Microsecond},
	{AuthMethod: "api_key", Decision: audit.Allow, Reason: "ok", Route: "GET /v1/orders", Status: 200, Latency: 2 * time.Millisecond},
	{AuthMethod: "jwt", Decision: audit.Allow, Reason: "ok", Route: "GET /v1/orders", Status: 200, Latency: 300 * time.Millisecond},
	{AuthMethod: "api_key", Decision: audit.Deny, Reason: "rate_limited", Route: "GET /v1/orders", Status: 429, Latency: time.Millisecond},
	{Decision: audit.Deny, Reason: "invalid_token", Route: "GET /v1/orders", Status: 401, Latency: 50 * time.Microsecond},
	{Decision: audit.Deny, Reason: "invalid_token", Route: "POST /v1/payouts", Status: 401, Latency: 50 * time.Microsecond},
	{Decision: audit.Deny, Reason: "http_404", Status: 404, Latency: 10 * time.Microsecond},
}

func observeAll(m *auditprom.Metrics) {
	for _, o := range observations {
		m.ObserveRequest(o)
	}
}

func TestObserveRequest(t *testing.T) {
	m, reg := newMetrics(t, auditprom.Config{Buckets: []float64{0.001, 0.1}})
	observeAll(m)
	const want = `
# HELP keygate_requests_total Requests through keygate's middleware, by authentication method, decision and reason.
# TYPE keygate_requests_total counter
keygate_requests_total{auth_method="api_key",decision="allow",reason="ok"} 2
keygate_requests_total{auth_method="api_key",decision="deny",reason="rate_limited"} 1
keygate_requests_total{auth_method="jwt",decision="allow",reason="ok"} 1
keygate_requests_total{auth_method="none",decision="deny",reason="http_404"} 1
keygate_requests_total{auth_method="none",decision="deny",reason="invalid_token"} 2
# HELP keygate_request_duration_seconds Time from a request's arrival to its response, by authentication method and decision.
# TYPE keygate_request_duration_seconds histogram
keygate_request_duration_seconds_bucket{auth_method="api_key",decision="allow",le="0.001"} 1
keygate_request_duration_seconds_bucket{auth_method="api_key",decision="allow",le="0.1"} 2
keygate_request_duration_seconds_bucket{auth_method="api_key",decision="allow",le="+Inf"} 2
keygate_request_duration_seconds_sum{auth_method="api_key",decision="allow"} 0.0025
keygate_request_duration_seconds_count{auth_method="api_key",decision="allow"} 2
keygate_request_duration_seconds_bucket{auth_method="api_key",decision="deny",le="0.001"} 1
keygate_request_duration_seconds_bucket{auth_method="api_key",decision="deny",le="0.1"} 1
keygate_request_duration_seconds_bucket{auth_method="api_key",decision="deny",le="+Inf"} 1
keygate_request_duration_seconds_sum{auth_method="api_key",decision="deny"} 0.001
keygate_request_duration_seconds_count{auth_method="api_key",decision="deny"} 1
keygate_request_duration_seconds_bucket{auth_method="jwt",decision="allow",le="0.001"} 0
keygate_request_duration_seconds_bucket{auth_method="jwt",decision="allow",le="0.1"} 0
keygate_request_duration_seconds_bucket{auth_method="jwt",decision="allow",le="+Inf"} 1
keygate_request_duration_seconds_sum{auth_method="jwt",decision="allow"} 0.3
keygate_request_duration_seconds_count{auth_method="jwt",decision="allow"} 1
keygate_request_duration_seconds_bucket{auth_method="none",decision="deny",le="0.001"} 3
keygate_request_duration_seconds_bucket{auth_method="none",decision="deny",le="0.1"} 3
keygate_request_duration_seconds_bucket{auth_method="none",decision="deny",le="+Inf"} 3
keygate_request_duration_seconds_sum{auth_method="none",decision="deny"} 0.00011
keygate_request_duration_seconds_count{auth_method="none",decision="deny"} 3
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want)))
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name   string
		cfg    auditprom.Config
		series map[string]int // metric name → series after observeAll
	}{
		{"defaults", auditprom.Config{},
			map[string]int{"keygate_requests_total": 5, "keygate_request_duration_seconds": 4}},
		{"namespace", auditprom.Config{Namespace: "gate"},
			map[string]int{"gate_requests_total": 5, "gate_request_duration_seconds": 4}},
		{"route label", auditprom.Config{RouteLabel: true},
			map[string]int{"keygate_requests_total": 6, "keygate_request_duration_seconds": 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t, tt.cfg)
			observeAll(m)
			for name, n := range tt.series {
				got, err := testutil.GatherAndCount(reg, name)
				require.NoError(t, err)
				assert.Equal(t, n, got, name)
			}
		})
	}
}

func TestDefaultBuckets(t *testing.T) {
	m, reg := newMetrics(t, auditprom.Config{})
	m.ObserveRequest(audit.RequestMetric{AuthMethod: "hmac", Decision: audit.Allow, Reason: "ok", Latency: 3 * time.Millisecond})
	h := histogram(t, reg, "keygate_request_duration_seconds")
	assert.Equal(t, uint64(1), h.GetSampleCount())
	b := h.GetBucket()
	require.Len(t, b, 15)
	assert.InDelta(t, 0.0001, b[0].GetUpperBound(), 1e-12)
	assert.InDelta(t, 5, b[len(b)-1].GetUpperBound(), 1e-12)
}

func TestRouteLabel(t *testing.T) {
	m, reg := newMetrics(t, auditprom.Config{RouteLabel: true})
	observeAll(m)
	const want = `
# HELP keygate_requests_total Requests through keygate's middleware, by authentication method, decision and reason.
# TYPE keygate_requests_total counter
keygate_requests_total{auth_method="api_key",decision="allow",reason="ok",route="GET /v1/orders"} 2
keygate_requests_total{auth_method="api_key",decision="deny",reason="rate_limited",route="GET /v1/orders"} 1
keygate_requests_total{auth_method="jwt",decision="allow",reason="ok",route="GET /v1/orders"} 1
keygate_requests_total{auth_method="none",decision="deny",reason="http_404",route="none"} 1
keygate_requests_total{auth_method="none",decision="deny",reason="invalid_token",route="GET /v1/orders"} 1
keygate_requests_total{auth_method="none",decision="deny",reason="invalid_token",route="POST /v1/payouts"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "keygate_requests_total"))
}

func TestDuplicateRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := auditprom.New(auditprom.Config{Registerer: reg})
	require.NoError(t, err)
	_, err = auditprom.New(auditprom.Config{Registerer: reg})
	var dup prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &dup)
	_, err = auditprom.New(auditprom.Config{Registerer: reg, Namespace: "other"})
	assert.NoError(t, err, "another namespace does not collide")
}

// TestNewRegistersAllOrNothing: when the histogram cannot be registered,
// the counter registered before it is withdrawn.
func TestNewRegistersAllOrNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	squatter := prometheus.NewGauge(prometheus.GaugeOpts{Name: "keygate_request_duration_seconds", Help: "taken"})
	require.NoError(t, reg.Register(squatter))
	_, err := auditprom.New(auditprom.Config{Registerer: reg})
	require.Error(t, err)
	// The same counter registers: New left none behind.
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keygate_requests_total",
		Help: "Requests through keygate's middleware, by authentication method, decision and reason.",
	}, []string{"auth_method", "decision", "reason"})
	assert.NoError(t, reg.Register(counter))
}

func TestDefaultRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	saved := prometheus.DefaultRegisterer
	prometheus.DefaultRegisterer = reg
	t.Cleanup(func() { prometheus.DefaultRegisterer = saved })

	m, err := auditprom.New(auditprom.Config{})
	require.NoError(t, err)
	m.ObserveRequest(audit.RequestMetric{AuthMethod: "jwt", Decision: audit.Allow, Reason: "ok"})
	n, err := testutil.GatherAndCount(reg, "keygate_requests_total")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestConcurrentObservations(t *testing.T) {
	m, reg := newMetrics(t, auditprom.Config{})
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				m.ObserveRequest(audit.RequestMetric{AuthMethod: "api_key", Decision: audit.Allow, Reason: "ok", Latency: time.Millisecond})
			}
		})
	}
	wg.Wait()
	assert.Equal(t, uint64(goroutines*each), histogram(t, reg, "keygate_request_duration_seconds").GetSampleCount())
}

func TestObserveRequestAllocs(t *testing.T) {
	m, _ := newMetrics(t, auditprom.Config{})
	r := audit.RequestMetric{AuthMethod: "api_key", Decision: audit.Deny, Reason: "rate_limited", Latency: time.Millisecond}
	m.ObserveRequest(r) // creates the series
	allocs := testing.AllocsPerRun(1000, func() { m.ObserveRequest(r) })
	assert.Zero(t, allocs)
}

// blockingSink holds every write until release is closed.
type blockingSink struct {
	release chan struct{}
	sink    *audit.MemorySink
}

func (s *blockingSink) Write(ctx context.Context, batch []audit.Event) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.sink.Write(ctx, batch)
}

func writerStats(t *testing.T, reg *prometheus.Registry) (emitted, written, dropped, pending float64) {
	t.Helper()
	v := func(name string) float64 {
		mf := family(t, reg, name)
		require.Len(t, mf.GetMetric(), 1, name)
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return v("keygate_audit_events_emitted_total"), v("keygate_audit_events_written_total"),
		v("keygate_audit_events_dropped_total"), v("keygate_audit_events_pending")
}

func TestWatchWriter(t *testing.T) {
	m, reg := newMetrics(t, auditprom.Config{})
	sink := audit.NewMemorySink(100)
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, FlushInterval: time.Millisecond})
	require.NoError(t, m.WatchWriter(w))
	for range 5 {
		require.NoError(t, w.Emit(context.Background(), audit.Event{Time: time.Now(), Reason: "ok"}, audit.Block))
	}
	require.NoError(t, w.Close(context.Background()))
	require.Len(t, sink.Events(), 5)
	const want = `
# HELP keygate_audit_events_dropped_total Audit events lost: dropped on a full queue, or undelivered at shutdown.
# TYPE keygate_audit_events_dropped_total counter
keygate_audit_events_dropped_total 0
# HELP keygate_audit_events_emitted_total Audit events accepted by the writer (written, dropped or pending).
# TYPE keygate_audit_events_emitted_total counter
keygate_audit_events_emitted_total 5
# HELP keygate_audit_events_pending Audit events emitted but not yet written: queued or being written.
# TYPE keygate_audit_events_pending gauge
keygate_audit_events_pending 0
# HELP keygate_audit_events_written_total Audit events delivered to every sink.
# TYPE keygate_audit_events_written_total counter
keygate_audit_events_written_total 5
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"keygate_audit_events_emitted_total", "keygate_audit_events_written_total",
		"keygate_audit_events_dropped_total", "keygate_audit_events_pending"))

	other := audit.NewWriter(audit.WriterConfig{})
	defer other.Close(context.Background())
	err := m.WatchWriter(other)
	var dup prometheus.AlreadyRegisteredError
	assert.ErrorAs(t, err, &dup, "one writer per Metrics")
	assert.Error(t, m.WatchWriter(nil))
}

// TestWatchWriterDrops: events dropped on a full queue show as dropped,
// and those waiting as pending, while the sink is stalled.
func TestWatchWriterDrops(t *testing.T) {
	m, reg := newMetrics(t, auditprom.Config{})
	sink := &blockingSink{release: make(chan struct{}), sink: audit.NewMemorySink(100)}
	w := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{sink}, QueueSize: 1, BatchSize: 1})
	require.NoError(t, m.WatchWriter(w))
	const n = 10
	for range n {
		_ = w.Emit(context.Background(), audit.Event{Time: time.Now()}, audit.Drop)
	}
	emitted, written, dropped, pending := writerStats(t, reg)
	assert.Equal(t, float64(n), emitted)
	assert.Zero(t, written)
	assert.GreaterOrEqual(t, dropped, float64(n-2), "one event in the stalled write, one queued")
	assert.Equal(t, float64(n), dropped+pending)

	close(sink.release)
	require.NoError(t, w.Close(context.Background()))
	emitted, written, dropped, pending = writerStats(t, reg)
	assert.Equal(t, float64(n), emitted)
	assert.Equal(t, emitted, written+dropped)
	assert.Positive(t, dropped)
	assert.Zero(t, pending)
	// The log agrees: the written events, and gap markers counting the
	// dropped ones.
	var events, gaps uint64
	for _, e := range sink.sink.Events() {
		if e.Gap > 0 {
			gaps += e.Gap
		} else {
			events++
		}
	}
	assert.Equal(t, written, float64(events))
	assert.Equal(t, dropped, float64(gaps))
}
