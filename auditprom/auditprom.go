package auditprom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/audit"
)

// DefaultNamespace prefixes the metric names when [Config.Namespace] is
// empty.
const DefaultNamespace = "keygate"

// defaultBuckets are request latencies in seconds, from 100µs (a request
// refused before any lookup) to 5s (a stalled store).
var defaultBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Config configures [New].
type Config struct {
	// Registerer registers the metrics. Nil means
	// [prometheus.DefaultRegisterer].
	Registerer prometheus.Registerer
	// Namespace prefixes the metric names. Empty means "keygate".
	Namespace string
	// Buckets are the request duration histogram's upper bounds, in
	// seconds. Nil means 15 buckets from 100µs to 5s.
	Buckets []float64
	// RouteLabel adds a route label to the requests counter: the matched
	// route pattern, "none" when no route matched. It is bounded by the
	// routes mounted, but multiplies the counter's series by them.
	RouteLabel bool
}

// Metrics records request outcomes as Prometheus metrics. It implements
// [audit.Metrics] and is safe for concurrent use. Create it with [New].
type Metrics struct {
	reg        prometheus.Registerer
	namespace  string
	routeLabel bool
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

var _ audit.Metrics = (*Metrics)(nil)

// New creates the request metrics and registers them with
// cfg.Registerer. It returns the registration error, such as a
// [prometheus.AlreadyRegisteredError] when metrics of the same names are
// already registered; then nothing stays registered.
func New(cfg Config) (*Metrics, error) {
	m := &Metrics{reg: cfg.Registerer, namespace: cfg.Namespace, routeLabel: cfg.RouteLabel}
	if m.reg == nil {
		m.reg = prometheus.DefaultRegisterer
	}
	if m.namespace == "" {
		m.namespace = DefaultNamespace
	}
	buckets := cfg.Buckets
	if buckets == nil {
		buckets = defaultBuckets
	}
	labels := []string{"auth_method", "decision", "reason"}
	if cfg.RouteLabel {
		labels = append(labels, "route")
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: m.namespace,
		Name:      "requests_total",
		Help:      "Requests through keygate's middleware, by authentication method, decision and reason.",
	}, labels)
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: m.namespace,
		Name:      "request_duration_seconds",
		Help:      "Time from a request's arrival to its response, by authentication method and decision.",
		Buckets:   buckets,
	}, []string{"auth_method", "decision"})
	if err := m.reg.Register(m.requests); err != nil {
		return nil, fmt.Errorf("auditprom: %w", err)
	}
	if err := m.reg.Register(m.duration); err != nil {
		m.reg.Unregister(m.requests)
		return nil, fmt.Errorf("auditprom: %w", err)
	}
	return m, nil
}

// ObserveRequest counts r and records its latency. An empty auth method or
// route is recorded as "none".
func (m *Metrics) ObserveRequest(r audit.RequestMetric) {
	method := r.AuthMethod
	if method == "" {
		method = "none"
	}
	if m.routeLabel {
		route := r.Route
		if route == "" {
			route = "none"
		}
		m.requests.WithLabelValues(method, string(r.Decision), r.Reason, route).Inc()
	} else {
		m.requests.WithLabelValues(method, string(r.Decision), r.Reason).Inc()
	}
	m.duration.WithLabelValues(method, string(r.Decision)).Observe(r.Latency.Seconds())
}

// WatchWriter registers, with the Registerer of [New], metrics that read
// w's [audit.Writer.Stats] at each scrape: the events emitted, written and
// dropped, and the events pending (emitted but neither written nor
// dropped yet: queued, or in the batch being written). Dropped events are
// those dropped under [audit.Drop] and those Close gave up on; a rising
// count means audit events are being lost.
//
// A Metrics watches one writer: a second call returns the registration
// error.
func (m *Metrics) WatchWriter(w *audit.Writer) error {
	if w == nil {
		return fmt.Errorf("auditprom: WatchWriter: nil writer")
	}
	if err := m.reg.Register(newWriterCollector(m.namespace, w)); err != nil {
		return fmt.Errorf("auditprom: %w", err)
	}
	return nil
}

// writerCollector exposes a Writer's Stats, taking one snapshot per
// scrape so that the values agree with each other.
type writerCollector struct {
	w                                  *audit.Writer
	emitted, written, dropped, pending *prometheus.Desc
}

func newWriterCollector(namespace string, w *audit.Writer) *writerCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "audit", name), help, nil, nil)
	}
	return &writerCollector{
		w:       w,
		emitted: desc("events_emitted_total", "Audit events accepted by the writer (written, dropped or pending)."),
		written: desc("events_written_total", "Audit events delivered to every sink."),
		dropped: desc("events_dropped_total", "Audit events lost: dropped on a full queue, or undelivered at shutdown."),
		pending: desc("events_pending", "Audit events emitted but not yet written: queued or being written."),
	}
}

// Describe implements [prometheus.Collector].
func (c *writerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.emitted
	ch <- c.written
	ch <- c.dropped
	ch <- c.pending
}

// Collect implements [prometheus.Collector].
func (c *writerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.w.Stats()
	ch <- prometheus.MustNewConstMetric(c.emitted, prometheus.CounterValue, float64(st.Emitted))
	ch <- prometheus.MustNewConstMetric(c.written, prometheus.CounterValue, float64(st.Written))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
	// Stats loads Written and Dropped before Emitted: their sum never
	// exceeds it.
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Emitted-st.Written-st.Dropped))
}
