package sqlstoretest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/sqlstore"
)

// AuditPopulation describes the events [PopulateAudit] wrote.
type AuditPopulation struct {
	// Events is how many events were written.
	Events int
	// End is the end of the 24 hours the events cover: the benchmarks'
	// "now".
	End time.Time
	// Accounts and KeyIDs are the accounts and keys the request events
	// name (KeyIDs[i] belongs to Accounts[i%len(Accounts)]).
	Accounts, KeyIDs []string
	// Modes, DenyReasons: the modes and the reasons of denials used.
	Modes, DenyReasons []string
}

// AuditPopulationOf describes the events [PopulateAudit] writes for n and
// end, without writing them: for a database loaded earlier. Any change to
// the population must change the name under which benchmarks keep such a
// database.
func AuditPopulationOf(n int, end time.Time) AuditPopulation {
	p := AuditPopulation{Events: n, End: end.UTC(), Modes: []string{"test", "live"},
		DenyReasons: []string{"invalid_key", "revoked", "expired", "rate_limited", "ip_denied", "insufficient_scope"}}
	for i := range 8 {
		p.Accounts = append(p.Accounts, fmt.Sprintf("acct_bench%d", i))
	}
	for i := range 40 {
		p.KeyIDs = append(p.KeyIDs, fmt.Sprintf("kid_bench%02d", i))
	}
	return p
}

// auditBatch is how many events one Write of [PopulateAudit] stores.
const auditBatch = 5000

// PopulateAudit writes n audit events to db through its [sqlstore.AuditSink]
// (so that the rollup is kept as in production), spread evenly over the 24
// hours before end, in batches of 5,000: request events of 8 accounts, 40
// keys, both modes and a few unauthenticated ones (no mode), 85% allowed
// and the rest denied for one of 6 reasons, and one management event in a
// thousand. Loading 1,000,000 events takes a while: benchmarks load them
// once and keep the database (see the sqlite module's BenchmarkAudit).
func PopulateAudit(tb testing.TB, db *sqlstore.DB, n int, end time.Time) AuditPopulation {
	tb.Helper()
	p := AuditPopulationOf(n, end)
	ctx := context.Background()
	sink := db.Audit()
	start := p.End.Add(-24 * time.Hour)
	step := 24 * time.Hour / time.Duration(max(n, 1))
	batch := make([]audit.Event, 0, auditBatch)
	for i := range n {
		// A key by a hash of i, so that keys and decisions (by i%20) mix.
		k := int((uint32(i) * 2654435761 >> 8) % uint32(len(p.KeyIDs)))
		e := audit.Event{
			Time:       start.Add(time.Duration(i) * step),
			RequestID:  fmt.Sprintf("req_%08d", i),
			IP:         fmt.Sprintf("198.51.100.%d", i%200),
			Method:     "GET",
			Path:       "/v1/orders",
			Route:      "GET /v1/orders",
			Status:     200,
			LatencyMS:  1.5,
			AuthMethod: "api_key",
			KeyID:      p.KeyIDs[k],
			Account:    p.Accounts[k%len(p.Accounts)],
			Mode:       p.Modes[(k/len(p.Accounts))%2],
			Decision:   audit.Allow,
			Reason:     "ok",
		}
		switch {
		case i%1000 == 999:
			e = audit.Event{Time: e.Time, Action: "key.rotated", Actor: "admin", KeyID: e.KeyID, Account: e.Account, Mode: e.Mode}
		case i%20 == 3:
			// Not authenticated: no key, account or mode.
			e.AuthMethod, e.KeyID, e.Account, e.Mode = "", "", "", ""
			e.Decision, e.Reason, e.Status = audit.Deny, "invalid_key", 401
		case i%20 == 7 || i%20 == 13:
			e.Decision, e.Reason, e.Status = audit.Deny, p.DenyReasons[1+(i/20)%5], 403
		}
		batch = append(batch, e)
		if len(batch) == auditBatch || i == n-1 {
			if err := sink.Write(ctx, batch); err != nil {
				tb.Fatalf("PopulateAudit: Write: %v", err)
			}
			batch = batch[:0]
		}
	}
	return p
}

// BenchmarkAudit measures the audit reads of the admin console over the
// events of [PopulateAudit]: the overview's summaries (the last 24 hours
// by hour, on the hour and not; the last hour by minute), one key's
// summary, and a page of the 50 newest events of one key and decision,
// without and with a time range.
func BenchmarkAudit(b *testing.B, db *sqlstore.DB, p AuditPopulation) {
	ctx := context.Background()
	sink := db.Audit()
	hour := p.End.Truncate(time.Hour)
	key, acct := p.KeyIDs[len(p.KeyIDs)/2], p.Accounts[1]
	fiveMin := p.End.Add(-time.Hour).Truncate(5 * time.Minute).Add(5 * time.Minute)
	dayStart := p.End.Add(-24 * time.Hour).Truncate(time.Hour).Add(time.Hour)
	summaries := []struct {
		name string
		q    audit.SummaryQuery
	}{
		{"Summarize/overview-24h-on-the-hour", audit.SummaryQuery{Since: hour.Add(-23 * time.Hour), Until: hour.Add(time.Hour), Bucket: time.Hour}},
		{"Summarize/overview-24h-to-now", audit.SummaryQuery{Since: p.End.Add(-24 * time.Hour), Until: p.End, Bucket: time.Hour}},
		{"Summarize/overview-last-hour-by-minute", audit.SummaryQuery{Since: p.End.Add(-time.Hour), Until: p.End, Bucket: time.Minute}},
		{"Summarize/key-24h-on-the-hour", audit.SummaryQuery{Since: hour.Add(-23 * time.Hour), Until: hour.Add(time.Hour), Bucket: time.Hour, KeyID: key}},
		{"Summarize/key-24h-to-now", audit.SummaryQuery{Since: p.End.Add(-24 * time.Hour), Until: p.End, Bucket: time.Hour, KeyID: key}},
		{"Summarize/account-24h-to-now", audit.SummaryQuery{Since: p.End.Add(-24 * time.Hour), Until: p.End, Bucket: time.Hour, Account: acct}},
		// The console's overview: the last hour by 5 minutes and the
		// last 24 hours by hour, from the next boundary on, for an
		// operator and for an account's owner; a key page's chart.
		{"Summarize/console-hour", audit.SummaryQuery{Since: fiveMin, Until: p.End, Bucket: 5 * time.Minute}},
		{"Summarize/console-day", audit.SummaryQuery{Since: dayStart, Until: p.End, Bucket: time.Hour}},
		{"Summarize/console-hour-account", audit.SummaryQuery{Since: fiveMin, Until: p.End, Bucket: 5 * time.Minute, Account: acct}},
		{"Summarize/console-day-account", audit.SummaryQuery{Since: dayStart, Until: p.End, Bucket: time.Hour, Account: acct}},
		{"Summarize/console-key-day", audit.SummaryQuery{Since: dayStart, Until: p.End, Bucket: time.Hour, KeyID: key}},
	}
	for _, s := range summaries {
		b.Run(s.name, func(b *testing.B) {
			var total int64
			for b.Loop() {
				sum, err := sink.Summarize(ctx, s.q)
				if err != nil {
					b.Fatal(err)
				}
				total = 0
				for _, bk := range sum.Buckets {
					total += bk.Allow + bk.Deny
				}
			}
			if total == 0 {
				b.Fatalf("%+v: nothing counted", s.q)
			}
		})
	}
	queries := []struct {
		name string
		q    audit.Query
	}{
		{"Query/newest-50", audit.Query{Limit: 50}},
		{"Query/key-and-deny-50", audit.Query{KeyID: key, Decision: audit.Deny, Limit: 50}},
		{"Query/key-and-deny-50-range", audit.Query{KeyID: key, Decision: audit.Deny, Limit: 50,
			Since: p.End.Add(-12 * time.Hour), Until: p.End.Add(-6 * time.Hour)}},
		{"Query/deny-50-range", audit.Query{Decision: audit.Deny, Limit: 50,
			Since: p.End.Add(-12 * time.Hour), Until: p.End.Add(-6 * time.Hour)}},
		{"Query/key-50-early-range", audit.Query{KeyID: key, Limit: 50,
			Since: p.End.Add(-24 * time.Hour), Until: p.End.Add(-23 * time.Hour)}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				page, err := sink.Query(ctx, q.q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(page.Events)
			}
			if n != q.q.Limit {
				b.Fatalf("%+v: %d events, want a full page", q.q, n)
			}
		})
	}
}
