package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
	rollups := newRollups(batch)
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
		return rollups.write(ctx, t, last-int64(len(batch))+1)
	})
	if err != nil {
		return s.d.fail(ctx, "write audit events", err)
	}
	return nil
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
	if !q.Since.IsZero() || !q.Until.IsZero() {
		// A time range is a range of sequence numbers too, which the
		// indexes of the other filters (key_id, seq), ... hold in the
		// order of the page: the time conditions only check (+ 0 keeps
		// SQLite's planner off the index of event_time, which would sort
		// the whole range).
		var lo, hi *int64
		if !q.Since.IsZero() {
			lo = ptr(clampTime(q.Since))
		}
		if !q.Until.IsZero() {
			hi = ptr(clampTime(q.Until))
		}
		first, last, ok, err := s.seqRange(ctx, lo, hi)
		if err != nil {
			return audit.Page{}, s.d.fail(ctx, "query audit events", err)
		}
		if !ok {
			return audit.Page{}, nil
		}
		conds = append(conds, "seq >= ?", "seq <= ?")
		args = append(args, first, last)
	}
	if !q.Since.IsZero() {
		conds = append(conds, "event_time + 0 >= ?")
		args = append(args, clampTime(q.Since))
	}
	if !q.Until.IsZero() {
		conds = append(conds, "event_time + 0 < ?")
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
