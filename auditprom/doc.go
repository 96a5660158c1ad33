// Package auditprom exports keygate's request metrics to Prometheus: it
// implements [audit.Metrics] for [middleware.AuditConfig], and it can
// expose an [audit.Writer]'s counters, so that an operator sees that no
// audit event is silently lost.
//
// It is a module of its own, so that the Prometheus client library enters
// only the builds of programs that use it, never the keygate library's.
//
// # Metrics
//
// With the default namespace "keygate":
//
//	keygate_requests_total{auth_method, decision, reason}          counter
//	keygate_request_duration_seconds{auth_method, decision}        histogram
//
// auth_method is api_key, jwt, hmac, one_time, or none for a request that
// was not authenticated; decision is allow or deny; reason is the audit
// event's reason code (ok, invalid_token, rate_limited, geo_forbidden,
// http_404, ...). Every label has a bounded set of values. With
// [Config.RouteLabel], the counter also has a route label, the matched
// route pattern (none when no route matched): patterns come from the mux,
// so the label has as many values as routes.
//
// [Metrics.WatchWriter] adds, read from [audit.Writer.Stats] at each
// scrape:
//
//	keygate_audit_events_emitted_total   counter
//	keygate_audit_events_written_total   counter
//	keygate_audit_events_dropped_total   counter
//	keygate_audit_events_pending         gauge (queued or being written)
//
// [middleware.AuditConfig]: https://pkg.go.dev/github.com/keygate/keygate/middleware#AuditConfig
package auditprom
