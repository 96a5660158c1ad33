package sqlstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keygate/keygate/audit"
)

// AuditSink stores audit events in the DB: an [audit.Sink] and an
// [audit.History]. Each Write stores its batch in one transaction with
// multi-row INSERTs; sequence numbers come from a counter row that the
// transaction locks, so that they are consecutive from 1, without gaps,
// across restarts and across the processes sharing the database. Queries
// run newest first on indexes for each filter, with a keyset cursor on the
// sequence number. The same transaction adds the batch's request events to
// hourly counts (a rollup), from which [AuditSink.Summarize] answers whole
// hours.
type AuditSink struct{ d *DB }

// Audit returns the DB's audit sink.
func (d *DB) Audit() *AuditSink { return &AuditSink{d} }

var (
	_ audit.Sink       = (*AuditSink)(nil)
	_ audit.History    = (*AuditSink)(nil)
	_ audit.Summarizer = (*AuditSink)(nil)
)

// auditStream names the counter row of the sink's sequence numbers.
const auditStream = "default"

// auditChunk is how many events one INSERT statement carries (11
// parameters each: far below both dialects' limits).
const auditChunk = 100

const auditColumns = "seq, event_time, key_id, account, mode, store, ip, decision, reason, action, event"

// column returns s as a column or filter value: valid UTF-8 without NUL
// bytes, which PostgreSQL's TEXT cannot hold. Both dialects store the
// same, so that a filter matches the same events on either.
func column(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Write implements [audit.Sink]: the whole batch or nothing.
func (s *AuditSink) Write(ctx context.Context, batch []audit.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	// Encode outside the transaction, which holds the counter's lock.
	rows := make([][]any, len(batch))
	for i := range batch {
		e := batch[i]
		e.Seq = 0 // the column holds it
		b, err := json.Marshal(&e)
		if err != nil {
			return fmt.Errorf("sqlstore: audit event %d: %w", i, err)
		}
		rows[i] = []any{nil, clampTime(e.Time), column(e.KeyID), column(e.Account), column(e.Mode), column(e.Store),
			column(e.IP), column(string(e.Decision)), column(e.Reason), column(e.Action), string(b)}
	}
	rollup := rollupRows(batch)
	err := s.d.inTx(ctx, func(t tx) error {
		var last int64
		if err := t.queryRow(ctx, "UPDATE audit_streams SET seq = seq + ? WHERE stream = ? RETURNING seq",
			int64(len(batch)), auditStream).Scan(&last); err != nil {
			return err
		}
		seq := last - int64(len(batch))
		for start := 0; start < len(rows); start += auditChunk {
			chunk := rows[start:min(start+auditChunk, len(rows))]
			var q strings.Builder
			q.WriteString("INSERT INTO audit_events (" + auditColumns + ") VALUES ")
			args := make([]any, 0, len(chunk)*11)
			for i, r := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				seq++
				r[0] = seq
				args = append(args, r...)
			}
			if _, err := t.exec(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		for chunk := range slices.Chunk(rollup, auditChunk) {
			var q strings.Builder
			q.WriteString("INSERT INTO audit_rollup (" + rollupColumns + ") VALUES ")
			args := make([]any, 0, len(chunk)*7)
			for i, r := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
				args = append(args, r.hour, r.account, r.keyID, r.mode, r.decision, r.reason, r.events)
			}
			q.WriteString(" ON CONFLICT (bucket_hour, account, key_id, mode, decision, reason)" +
				" DO UPDATE SET events = audit_rollup.events + excluded.events")
			if _, err := t.exec(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.d.fail(ctx, "write audit events", err)
	}
	return nil
}

const rollupColumns = "bucket_hour, account, key_id, mode, decision, reason, events"

// hourNS is an hour in the unit of event_time.
const hourNS = int64(time.Hour)

// rollupRow is one row of audit_rollup: the count of a batch's request
// events of one hour (hours since the Unix epoch) and dimensions.
type rollupRow struct {
	hour                                   int64
	account, keyID, mode, decision, reason string
	events                                 int64
}

// rollupRows counts the request events of batch by row of audit_rollup,
// in the order of the table's primary key (so that concurrent writers
// lock its rows in one order).
func rollupRows(batch []audit.Event) []rollupRow {
	type key struct {
		hour                                   int64
		account, keyID, mode, decision, reason string
	}
	counts := map[key]int64{}
	for i := range batch {
		e := &batch[i]
		if e.Action != "" {
			continue
		}
		counts[key{floorDiv(clampTime(e.Time), hourNS), column(e.Account), column(e.KeyID), column(e.Mode),
			column(string(e.Decision)), column(e.Reason)}]++
	}
	out := make([]rollupRow, 0, len(counts))
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.account, b.account), cmp.Compare(a.keyID, b.keyID),
			cmp.Compare(a.mode, b.mode), cmp.Compare(a.decision, b.decision), cmp.Compare(a.reason, b.reason))
	}) {
		out = append(out, rollupRow{k.hour, k.account, k.keyID, k.mode, k.decision, k.reason, counts[k]})
	}
	return out
}

// floorDiv returns n / d rounded down (d > 0).
func floorDiv(n, d int64) int64 {
	q := n / d
	if n%d < 0 {
		q--
	}
	return q
}

// Summarize implements [audit.Summarizer]. Whole hours come from the
// rollup when q.Bucket is zero or a multiple of an hour: a summary over
// hours on the hour reads only the rollup, otherwise the parts of hours at
// either end are counted from the events. Other bucket widths count from
// the events (on the index of event_time).
func (s *AuditSink) Summarize(ctx context.Context, q audit.SummaryQuery) (audit.Summary, error) {
	if err := ctx.Err(); err != nil {
		return audit.Summary{}, err
	}
	if q.Bucket > math.MaxInt64/4 {
		// Wider than the events' range (the bucket arithmetic needs
		// 2 * Bucket to fit): one bucket holds them all.
		q.Bucket = 0 // never reached by a sensible caller
	}
	t := audit.NewTally(q)
	var lo, hi *int64 // [lo, hi) in event_time's unit; nil: open
	if !q.Since.IsZero() {
		v := clampTime(q.Since)
		lo = &v
	}
	if !q.Until.IsZero() {
		v := clampTime(q.Until)
		hi = &v
	}
	if lo != nil && hi != nil && *lo >= *hi {
		return t.Summary(), nil
	}
	var filters []string
	var args []any
	if q.Account != "" {
		filters, args = append(filters, "account = ?"), append(args, column(q.Account))
	}
	if q.KeyID != "" {
		filters, args = append(filters, "key_id = ?"), append(args, column(q.KeyID))
	}
	err := func() error {
		width, d := int64(q.Bucket), q.Bucket
		if width <= 0 {
			width, d = hourNS, time.Hour // one bucket: any grouping will do
		}
		if q.Bucket > 0 && q.Bucket%time.Hour != 0 ||
			lo != nil && *lo > math.MaxInt64-hourNS || hi != nil && *hi < math.MinInt64+hourNS {
			return s.tallyEvents(ctx, t, lo, hi, width, d, filters, args)
		}
		var hLo, hHi *int64 // the whole hours in [lo, hi)
		if lo != nil {
			v := -floorDiv(-*lo, hourNS)
			hLo = &v
		}
		if hi != nil {
			v := floorDiv(*hi, hourNS)
			hHi = &v
		}
		if hLo != nil && hHi != nil && *hLo >= *hHi {
			return s.tallyEvents(ctx, t, lo, hi, hourNS, time.Hour, filters, args)
		}
		if err := s.tallyRollup(ctx, t, hLo, hHi, filters, args); err != nil {
			return err
		}
		if lo != nil && *lo < *hLo*hourNS {
			if err := s.tallyEvents(ctx, t, lo, ptr(*hLo*hourNS), hourNS, time.Hour, filters, args); err != nil {
				return err
			}
		}
		if hi != nil && *hHi*hourNS < *hi {
			return s.tallyEvents(ctx, t, ptr(*hHi*hourNS), hi, hourNS, time.Hour, filters, args)
		}
		return nil
	}()
	if err != nil {
		return audit.Summary{}, s.d.fail(ctx, "summarize audit events", err)
	}
	return t.Summary(), nil
}

func ptr(v int64) *int64 { return &v }

// tallyRollup adds the rollup's counts of the hours in [hLo, hHi) (nil:
// open) to t.
func (s *AuditSink) tallyRollup(ctx context.Context, t *audit.Tally, hLo, hHi *int64, filters []string, fargs []any) error {
	conds, args := slices.Clone(filters), slices.Clone(fargs)
	if hLo != nil {
		conds, args = append(conds, "bucket_hour >= ?"), append(args, *hLo)
	}
	if hHi != nil {
		conds, args = append(conds, "bucket_hour < ?"), append(args, *hHi)
	}
	rows, err := s.d.query(ctx, "SELECT bucket_hour, mode, decision, reason, CAST(SUM(events) AS BIGINT) FROM audit_rollup"+
		where(conds)+" GROUP BY bucket_hour, mode, decision, reason", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var hour, n int64
		var mode, decision, reason string
		if err := rows.Scan(&hour, &mode, &decision, &reason, &n); err != nil {
			return err
		}
		t.Add(time.Unix(hour*3600, 0).UTC(), mode, audit.Decision(decision), reason, n)
	}
	return rows.Err()
}

// tallyEvents adds the request events in [lo, hi) (nil: open) to t,
// counted in the database by buckets of width (> 0, in event_time's unit;
// the duration d) aligned as [time.Time.Truncate] aligns them.
func (s *AuditSink) tallyEvents(ctx context.Context, t *audit.Tally, lo, hi *int64, width int64, d time.Duration, filters []string, fargs []any) error {
	conds, args := append([]string{"action = ''"}, filters...), slices.Clone(fargs)
	if lo != nil {
		conds, args = append(conds, "event_time >= ?"), append(args, *lo)
	}
	if hi != nil {
		conds, args = append(conds, "event_time < ?"), append(args, *hi)
	}
	// The bucket of event_time n is floor((n + off) / width), where
	// off (in [0, width)) is how far the Unix epoch lies into its own
	// bucket: computed from n's truncated quotient and remainder, so
	// that nothing overflows.
	epoch := time.Unix(0, 0)
	off := int64(epoch.Sub(epoch.Truncate(d)))
	args = append(args, width, width, off, width, off, width)
	rows, err := s.d.query(ctx, "SELECT MIN(event_time), mode, decision, reason, COUNT(*) FROM audit_events"+
		where(conds)+" GROUP BY event_time / ? + CASE WHEN event_time % ? + ? < 0 THEN -1 WHEN event_time % ? + ? >= ? THEN 1 ELSE 0 END,"+
		" mode, decision, reason", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var at, n int64
		var mode, decision, reason string
		if err := rows.Scan(&at, &mode, &decision, &reason, &n); err != nil {
			return err
		}
		// Any event time of a bucket stands for the bucket.
		t.Add(decTime(at), mode, audit.Decision(decision), reason, n)
	}
	return rows.Err()
}

// Query implements [audit.History]: newest first, Limit defaulting to
// [audit.DefaultQueryLimit] and at most [audit.MaxQueryLimit].
func (s *AuditSink) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	if err := ctx.Err(); err != nil {
		return audit.Page{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = audit.DefaultQueryLimit
	}
	limit = min(limit, audit.MaxQueryLimit)
	var conds []string
	var args []any
	for _, f := range []struct{ col, val string }{
		{"key_id", q.KeyID}, {"account", q.Account}, {"mode", q.Mode}, {"store", q.Store}, {"ip", q.IP},
		{"reason", q.Reason}, {"decision", string(q.Decision)}, {"action", q.Action},
	} {
		if f.val != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, column(f.val))
		}
	}
	if !q.Since.IsZero() {
		conds = append(conds, "event_time >= ?")
		args = append(args, clampTime(q.Since))
	}
	if !q.Until.IsZero() {
		conds = append(conds, "event_time < ?")
		args = append(args, clampTime(q.Until))
	}
	if q.Cursor != "" {
		before, err := decodeAuditCursor(q.Cursor)
		if err != nil {
			return audit.Page{}, err
		}
		conds = append(conds, "seq < ?")
		args = append(args, before)
	}
	rows, err := s.d.query(ctx, "SELECT seq, event FROM audit_events"+where(conds)+" ORDER BY seq DESC"+limitClause(limit+1), args...)
	if err != nil {
		return audit.Page{}, s.d.fail(ctx, "query audit events", err)
	}
	defer rows.Close()
	var p audit.Page
	for rows.Next() {
		var seq int64
		var data string
		if err := rows.Scan(&seq, &data); err != nil {
			return audit.Page{}, s.d.fail(ctx, "query audit events", err)
		}
		if len(p.Events) == limit {
			p.Next = encodeAuditCursor(p.Events[limit-1].Seq)
			break
		}
		var e audit.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return audit.Page{}, fmt.Errorf("sqlstore: query audit events: corrupt event %d", seq)
		}
		e.Seq = uint64(seq)
		p.Events = append(p.Events, e)
	}
	if err := rows.Err(); err != nil {
		return audit.Page{}, s.d.fail(ctx, "query audit events", err)
	}
	return p, nil
}

// The cursor is opaque to callers: "s" and the Seq of the last event
// returned, base64url-encoded.
func encodeAuditCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatUint(seq, 10)))
}

func decodeAuditCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 's' || b[1] == '0' || b[1] == '+' {
		return 0, audit.ErrBadCursor
	}
	seq, err := strconv.ParseInt(string(b[1:]), 10, 64)
	if err != nil || seq <= 0 {
		return 0, audit.ErrBadCursor
	}
	return seq, nil
}
