package sqlstore

import (
	"cmp"
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/audit"
)

// The units of the rollups, in event_time's (nanoseconds).
const (
	hourNS   = int64(time.Hour)
	minuteNS = int64(time.Minute)
)

// floorDiv returns n / d rounded down (d > 0).
func floorDiv(n, d int64) int64 {
	q := n / d
	if n%d < 0 {
		q--
	}
	return q
}

// rollups are what a batch of events adds to the tables that the summaries
// and the time-range queries read (migration 0008): its request events
// counted by hour and dimensions (audit_rollup), by minute (without account
// and key: audit_rollup_minute) and by account and minute
// (audit_rollup_account_minute), and the hour of each event, for the
// sequence numbers of each hour (audit_seq_hours).
type rollups struct {
	hourly         [][]any // bucket_hour, account, key_id, mode, decision, reason, events
	minutes        [][]any // bucket_minute, mode, decision, reason, events
	accountMinutes [][]any // account, bucket_minute, mode, decision, reason, events
	hours          []int64 // the hour of each event of the batch, in order
}

// newRollups counts batch, rows in the order of each table's primary key
// (so that concurrent writers lock rows in one order).
func newRollups(batch []audit.Event) rollups {
	type hourKey struct {
		hour                                   int64
		account, keyID, mode, decision, reason string
	}
	type minuteKey struct {
		account                string // only in accountMinutes
		minute                 int64
		mode, decision, reason string
	}
	hourly, minutes, accountMinutes := map[hourKey]int64{}, map[minuteKey]int64{}, map[minuteKey]int64{}
	r := rollups{hours: make([]int64, len(batch))}
	for i := range batch {
		e := &batch[i]
		at := clampTime(e.Time)
		r.hours[i] = floorDiv(at, hourNS)
		if e.Action != "" {
			continue
		}
		account, mode, decision, reason := column(e.Account), column(e.Mode), column(string(e.Decision)), column(e.Reason)
		minute := floorDiv(at, minuteNS)
		hourly[hourKey{r.hours[i], account, column(e.KeyID), mode, decision, reason}]++
		minutes[minuteKey{"", minute, mode, decision, reason}]++
		accountMinutes[minuteKey{account, minute, mode, decision, reason}]++
	}
	for _, k := range slices.SortedFunc(maps.Keys(hourly), func(a, b hourKey) int {
		return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.account, b.account), cmp.Compare(a.keyID, b.keyID),
			cmp.Compare(a.mode, b.mode), cmp.Compare(a.decision, b.decision), cmp.Compare(a.reason, b.reason))
	}) {
		r.hourly = append(r.hourly, []any{k.hour, k.account, k.keyID, k.mode, k.decision, k.reason, hourly[k]})
	}
	byMinute := func(a, b minuteKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.minute, b.minute), cmp.Compare(a.mode, b.mode),
			cmp.Compare(a.decision, b.decision), cmp.Compare(a.reason, b.reason))
	}
	for _, k := range slices.SortedFunc(maps.Keys(minutes), byMinute) {
		r.minutes = append(r.minutes, []any{k.minute, k.mode, k.decision, k.reason, minutes[k]})
	}
	for _, k := range slices.SortedFunc(maps.Keys(accountMinutes), byMinute) {
		r.accountMinutes = append(r.accountMinutes, []any{k.account, k.minute, k.mode, k.decision, k.reason, accountMinutes[k]})
	}
	return r
}

// write adds r to the tables in t, the transaction that inserts the batch
// with sequence numbers from first.
func (r rollups) write(ctx context.Context, t tx, first int64) error {
	if err := upsert(ctx, t, "audit_rollup", "bucket_hour, account, key_id, mode, decision, reason", "events", r.hourly,
		"events = audit_rollup.events + excluded.events"); err != nil {
		return err
	}
	if err := upsert(ctx, t, "audit_rollup_minute", "bucket_minute, mode, decision, reason", "events", r.minutes,
		"events = audit_rollup_minute.events + excluded.events"); err != nil {
		return err
	}
	if err := upsert(ctx, t, "audit_rollup_account_minute", "account, bucket_minute, mode, decision, reason", "events",
		r.accountMinutes, "events = audit_rollup_account_minute.events + excluded.events"); err != nil {
		return err
	}
	// Each hour's smallest and largest sequence number in the batch. The
	// batch's numbers are larger than any stored: an hour already there
	// keeps its min_seq and takes the batch's max_seq.
	seqs := map[int64][2]int64{}
	for i, h := range r.hours {
		seq := first + int64(i)
		if s, ok := seqs[h]; ok {
			seqs[h] = [2]int64{s[0], seq}
		} else {
			seqs[h] = [2]int64{seq, seq}
		}
	}
	var rows [][]any
	for _, h := range slices.Sorted(maps.Keys(seqs)) {
		rows = append(rows, []any{h, seqs[h][0], seqs[h][1]})
	}
	return upsert(ctx, t, "audit_seq_hours", "bucket_hour", "min_seq, max_seq", rows, "max_seq = excluded.max_seq")
}

// upsert inserts rows into table in multi-row statements: the key columns
// then the value columns, and on a conflict over the key, set.
func upsert(ctx context.Context, t tx, table, key, values string, rows [][]any, set string) error {
	for chunk := range slices.Chunk(rows, auditChunk) {
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + key + ", " + values + ") VALUES ")
		placeholders := "(?" + strings.Repeat(", ?", len(chunk[0])-1) + ")"
		args := make([]any, 0, len(chunk)*len(chunk[0]))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(placeholders)
			args = append(args, r...)
		}
		q.WriteString(" ON CONFLICT (" + key + ") DO UPDATE SET " + set)
		if _, err := t.exec(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// Summarize implements [audit.Summarizer]. It reads each part of the
// range from the coarsest source that covers it whole: the hours of
// audit_rollup (when q.Bucket is zero or a multiple of an hour), then,
// for a summary of every key, the minutes of audit_rollup_minute or, for
// one account, audit_rollup_account_minute (when q.Bucket is zero or a
// multiple of a minute), then the events (on the index of event_time, or
// of the key or account). A summary over whole hours
// reads only the rollup; one ending now reads at most two partial
// minutes of events.
func (s *AuditSink) Summarize(ctx context.Context, q audit.SummaryQuery) (audit.Summary, error) {
	if err := ctx.Err(); err != nil {
		return audit.Summary{}, err
	}
	if q.Bucket > math.MaxInt64/4 {
		// Wider than a quarter of the storable range: the bucket
		// arithmetic in SQL needs twice the width to fit in a BIGINT.
		// One bucket holds every storable event.
		q.Bucket = 0
	}
	t := audit.NewTally(q)
	var lo, hi *int64 // [lo, hi) in event_time's unit; nil: open
	if !q.Since.IsZero() {
		lo = ptr(clampTime(q.Since))
	}
	if !q.Until.IsZero() {
		hi = ptr(clampTime(q.Until))
	}
	if lo != nil && hi != nil && *lo >= *hi {
		return t.Summary(), nil
	}
	sm := summarizer{s: s, t: t, index: "audit_events_time"}
	if q.Account != "" {
		sm.filters, sm.args = append(sm.filters, "account = ?"), append(sm.args, column(q.Account))
		sm.index = "audit_events_account"
	}
	if q.KeyID != "" {
		sm.filters, sm.args = append(sm.filters, "key_id = ?"), append(sm.args, column(q.KeyID))
		sm.index = "audit_events_key_id"
	}
	sm.events = source{width: int64(q.Bucket), d: q.Bucket, read: sm.tallyEvents}
	if q.Bucket <= 0 {
		sm.events.width, sm.events.d = hourNS, time.Hour // one bucket: any grouping will do
	}
	var sources []source
	if q.Bucket <= 0 || q.Bucket%time.Hour == 0 {
		sources = append(sources, source{width: hourNS, read: sm.tallyHours})
	}
	if q.KeyID == "" && (q.Bucket <= 0 || q.Bucket%time.Minute == 0) {
		sources = append(sources, source{width: minuteNS, read: sm.tallyMinutes})
	}
	if err := sm.cover(ctx, lo, hi, sources); err != nil {
		return audit.Summary{}, s.d.fail(ctx, "summarize audit events", err)
	}
	return t.Summary(), nil
}

func ptr(v int64) *int64 { return &v }

// summarizer is one call of Summarize.
type summarizer struct {
	s       *AuditSink
	t       *audit.Tally
	filters []string // account and key conditions, with their arguments
	args    []any
	index   string // the index of the events to read: of the key, the account or event_time
	events  source
}

// source is what a summary reads: whole units of width (in event_time's
// unit; the rollups: lo and hi in units), or the events (lo and hi in
// event_time's unit, grouped by width, the duration d).
type source struct {
	width int64
	d     time.Duration
	read  func(ctx context.Context, lo, hi *int64, width int64, d time.Duration) error
}

// cover tallies [lo, hi) (nil: open): the whole units of sources[0] in it
// from that source, and the parts at either end from the next sources,
// down to the events.
func (sm *summarizer) cover(ctx context.Context, lo, hi *int64, sources []source) error {
	if len(sources) == 0 {
		return sm.events.read(ctx, lo, hi, sm.events.width, sm.events.d)
	}
	src, rest := sources[0], sources[1:]
	w := src.width
	if lo != nil && *lo > math.MaxInt64-w || hi != nil && *hi < math.MinInt64+w {
		return sm.cover(ctx, lo, hi, rest) // no whole unit can be multiplied back
	}
	var uLo, uHi *int64 // the whole units in [lo, hi)
	if lo != nil {
		uLo = ptr(-floorDiv(-*lo, w))
	}
	if hi != nil {
		uHi = ptr(floorDiv(*hi, w))
	}
	if uLo != nil && uHi != nil && *uLo >= *uHi {
		return sm.cover(ctx, lo, hi, rest)
	}
	if err := src.read(ctx, uLo, uHi, 0, 0); err != nil {
		return err
	}
	if lo != nil && *lo < *uLo*w {
		if err := sm.cover(ctx, lo, ptr(*uLo*w), rest); err != nil {
			return err
		}
	}
	if hi != nil && *uHi*w < *hi {
		return sm.cover(ctx, ptr(*uHi*w), hi, rest)
	}
	return nil
}

// tallyHours adds the counts of audit_rollup's hours in [lo, hi).
func (sm *summarizer) tallyHours(ctx context.Context, lo, hi *int64, _ int64, _ time.Duration) error {
	return sm.tallyRollup(ctx, "SELECT bucket_hour, mode, decision, reason, CAST(SUM(events) AS BIGINT) FROM audit_rollup",
		"bucket_hour", " GROUP BY bucket_hour, mode, decision, reason", sm.filters, sm.args, lo, hi, 3600)
}

// tallyMinutes adds the counts of the minutes in [lo, hi) of
// audit_rollup_account_minute for a summary of one account, else of
// audit_rollup_minute (a summary without account or key).
func (sm *summarizer) tallyMinutes(ctx context.Context, lo, hi *int64, _ int64, _ time.Duration) error {
	if sm.index == "audit_events_account" {
		return sm.tallyRollup(ctx, "SELECT bucket_minute, mode, decision, reason, events FROM audit_rollup_account_minute",
			"bucket_minute", "", sm.filters, sm.args, lo, hi, 60)
	}
	return sm.tallyRollup(ctx, "SELECT bucket_minute, mode, decision, reason, events FROM audit_rollup_minute",
		"bucket_minute", "", nil, nil, lo, hi, 60)
}

// tallyRollup runs query, whose rows are (unit, mode, decision, reason,
// count), over the units [lo, hi) of column; a unit is seconds long.
func (sm *summarizer) tallyRollup(ctx context.Context, query, column, group string, filters []string, fargs []any, lo, hi *int64, seconds int64) error {
	conds, args := slices.Clone(filters), slices.Clone(fargs)
	if lo != nil {
		conds, args = append(conds, column+" >= ?"), append(args, *lo)
	}
	if hi != nil {
		conds, args = append(conds, column+" < ?"), append(args, *hi)
	}
	rows, err := sm.s.d.query(ctx, query+where(conds)+group, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var unit, n int64
		var mode, decision, reason string
		if err := rows.Scan(&unit, &mode, &decision, &reason, &n); err != nil {
			return err
		}
		sm.t.Add(time.Unix(unit*seconds, 0).UTC(), mode, audit.Decision(decision), reason, n)
	}
	return rows.Err()
}

// tallyEvents adds the request events in [lo, hi) (nil: open), counted in
// the database by buckets of width (> 0, in event_time's unit; the
// duration d) aligned as [time.Time.Truncate] aligns them.
func (sm *summarizer) tallyEvents(ctx context.Context, lo, hi *int64, width int64, d time.Duration) error {
	conds, args := append([]string{"action = ''"}, sm.filters...), slices.Clone(sm.args)
	if sm.index != "audit_events_time" {
		// One key's or account's events, on its index (key_id, seq) or
		// (account, seq), in the sequence numbers of the range's hours.
		first, last, ok, err := sm.s.seqRange(ctx, lo, hi)
		if err != nil || !ok {
			return err
		}
		conds, args = append(conds, "seq >= ?", "seq <= ?"), append(args, first, last)
	}
	if lo != nil {
		conds, args = append(conds, "event_time >= ?"), append(args, *lo)
	}
	if hi != nil {
		conds, args = append(conds, "event_time < ?"), append(args, *hi)
	}
	// The bucket of event_time n is floor((n + off) / width), where off
	// (in [0, width)) is how far the Unix epoch lies into its own bucket:
	// computed from n's truncated quotient and remainder, so that nothing
	// overflows.
	epoch := time.Unix(0, 0)
	off := int64(epoch.Sub(epoch.Truncate(d)))
	args = append(args, width, width, off, width, off, width)
	// Else on the index of event_time: the range is at most a minute at
	// either end of the rollups', or what the caller asked for.
	rows, err := sm.s.d.query(ctx, "SELECT MIN(event_time), mode, decision, reason, COUNT(*) FROM audit_events"+
		sm.s.d.dialect.indexedBy(sm.index)+where(conds)+
		" GROUP BY event_time / ? + CASE WHEN event_time % ? + ? < 0 THEN -1 WHEN event_time % ? + ? >= ? THEN 1 ELSE 0 END,"+
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
		sm.t.Add(decTime(at), mode, audit.Decision(decision), reason, n)
	}
	return rows.Err()
}

// seqRange returns bounds of the sequence numbers of the events with
// event_time in [lo, hi) (nil: open), from audit_seq_hours: every such
// event has a number in [first, last]. ok is false when no event can be in
// the range.
func (s *AuditSink) seqRange(ctx context.Context, lo, hi *int64) (first, last int64, ok bool, err error) {
	first, last = 1, math.MaxInt64
	for _, b := range []struct {
		at    *int64
		query string
		dst   *int64
	}{
		{lo, "SELECT MIN(min_seq) FROM audit_seq_hours WHERE bucket_hour >= ?", &first},
		{hi, "SELECT MAX(max_seq) FROM audit_seq_hours WHERE bucket_hour <= ?", &last},
	} {
		if b.at == nil {
			continue
		}
		row, err := s.d.readRow(ctx, b.query, floorDiv(*b.at, hourNS))
		if err != nil {
			return 0, 0, false, err
		}
		var v *int64
		if err := row.Scan(&v); err != nil {
			return 0, 0, false, err
		}
		if v == nil {
			return 0, 0, false, nil
		}
		*b.dst = *v
	}
	return first, last, first <= last, nil
}
