package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"strconv"
	"sync"
)

// Query limits.
const (
	DefaultQueryLimit = 100
	MaxQueryLimit     = 1000
)

// ErrBadCursor is returned by a [History] for a cursor it did not issue.
var ErrBadCursor = errors.New("audit: invalid cursor")

// MemorySink keeps the most recent events in a bounded ring: a [Sink] and
// [History] for tests and the admin console. It numbers events from 1.
type MemorySink struct {
	mu   sync.Mutex
	ring []Event // capacity slots; ring[(start+i)%cap] is the i-th oldest
	n    int     // events held
	next int     // slot of the next write
	seq  uint64  // Seq of the newest event
}

// NewMemorySink returns a MemorySink keeping the newest capacity events
// (at least 1).
func NewMemorySink(capacity int) *MemorySink {
	return &MemorySink{ring: make([]Event, max(capacity, 1))}
}

// Write stores batch, numbering it after the events already written.
// It stores copies and does not modify batch (a Writer hands it its batch
// itself: see readsBatchOnly).
func (m *MemorySink) Write(ctx context.Context, batch []Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range batch {
		m.seq++
		e := &m.ring[m.next]
		*e = batch[i]
		e.Seq = m.seq
		if e.Headers != nil {
			e.Headers = maps.Clone(e.Headers)
		}
		if m.next++; m.next == len(m.ring) {
			m.next = 0
		}
	}
	m.n = min(m.n+len(batch), len(m.ring))
	return nil
}

// at returns the i-th newest event held (0 is the newest). m.mu is held.
func (m *MemorySink) at(i int) *Event {
	return &m.ring[(m.next-1-i+2*len(m.ring))%len(m.ring)]
}

// Events returns the events held, oldest first.
func (m *MemorySink) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Event, m.n)
	for i := range m.n {
		e := *m.at(m.n - 1 - i)
		e.Headers = maps.Clone(e.Headers)
		out[i] = e
	}
	return out
}

// Query returns the events matching q, newest first.
func (m *MemorySink) Query(ctx context.Context, q Query) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	var before uint64 // only events with Seq < before; 0: no bound
	if q.Cursor != "" {
		var err error
		if before, err = decodeCursor(q.Cursor); err != nil {
			return Page{}, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var p Page
	for i := range m.n {
		e := m.at(i)
		if before != 0 && e.Seq >= before {
			continue
		}
		if !q.Match(e) {
			continue
		}
		if len(p.Events) == limit {
			p.Next = encodeCursor(p.Events[limit-1].Seq)
			break
		}
		c := *e
		c.Headers = maps.Clone(e.Headers)
		p.Events = append(p.Events, c)
	}
	return p, nil
}

// Match reports whether e satisfies the filters of q (not Limit or
// Cursor). Sinks implementing [History] may use it.
func (q *Query) Match(e *Event) bool {
	return eq(q.KeyID, e.KeyID) && eq(q.Account, e.Account) &&
		eq(q.Mode, e.Mode) && eq(q.Store, e.Store) && eq(q.IP, e.IP) &&
		eq(q.Reason, e.Reason) && eq(string(q.Decision), string(e.Decision)) &&
		eq(q.Action, e.Action) &&
		(q.Since.IsZero() || !e.Time.Before(q.Since)) &&
		(q.Until.IsZero() || e.Time.Before(q.Until))
}

func eq(want, got string) bool { return want == "" || want == got }

// The cursor is opaque to callers: "m" and the Seq of the last event
// returned, base64url-encoded.
func encodeCursor(seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("m" + strconv.FormatUint(seq, 10)))
}

func decodeCursor(c string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'm' {
		return 0, ErrBadCursor
	}
	seq, err := strconv.ParseUint(string(b[1:]), 10, 64)
	if err != nil || seq == 0 {
		return 0, ErrBadCursor
	}
	return seq, nil
}
