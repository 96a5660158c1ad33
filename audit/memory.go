package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/keygate/keygate/internal/strbytes"
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
//
// It holds each event encoded, in a buffer without pointers that it reuses
// for the event that evicts it: the garbage collector never scans what a
// full sink holds, and a full sink's writes allocate nothing once its
// buffers fit the events. The events it returns are decoded copies, each
// with its own Headers map; their times are in the location they were
// written in (see memcodec.go for the limits), without a monotonic clock
// reading.
type MemorySink struct {
	mu sync.Mutex
	// ring has capacity slots, each the memory form of an event
	// (memcodec.go); ring[(next-1-i) mod capacity] is the i-th newest.
	ring [][]byte
	locs []*time.Location // the times' locations, but UTC and Local (memcodec.go)
	n    int              // events held
	next int              // slot of the next write
	seq  uint64           // Seq of the newest event
}

// NewMemorySink returns a MemorySink keeping the newest capacity events
// (at least 1).
func NewMemorySink(capacity int) *MemorySink {
	return &MemorySink{ring: make([][]byte, max(capacity, 1))}
}

// maxSpareSlot is the size above which a slot's buffer is let go of when
// it is more than 4 times what its new event needs, so that a burst of
// large events does not keep the sink's memory high.
const maxSpareSlot = 1024

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
		b := appendMemEvent(m.ring[m.next][:0], &batch[i], &m.locs)
		if cap(b) > maxSpareSlot && cap(b) > 4*len(b) {
			b = bytes.Clone(b)
		}
		m.ring[m.next] = b
		if m.next++; m.next == len(m.ring) {
			m.next = 0
		}
	}
	m.n = min(m.n+len(batch), len(m.ring))
	return nil
}

// at returns the memory form and the Seq of the i-th newest event held (0
// is the newest). m.mu is held.
func (m *MemorySink) at(i int) ([]byte, uint64) {
	return m.ring[(m.next-1-i+2*len(m.ring))%len(m.ring)], m.seq - uint64(i)
}

// view sets e to the i-th newest event held, Headers aside, its strings
// aliasing the sink's buffer: e is for reading under m.mu, and must not
// outlive it. m.mu is held.
func (m *MemorySink) view(i int, e *Event) {
	b, seq := m.at(i)
	if !decodeMemEvent(b, e, m.locs, false) {
		panic("audit: MemorySink holds a malformed event")
	}
	e.Seq = seq
}

// event returns a copy of the i-th newest event held, which owns its
// strings and Headers. m.mu is held.
func (m *MemorySink) event(i int) Event {
	b, seq := m.at(i)
	// One copy, which the strings of the event alias.
	s := string(b)
	var e Event
	if !decodeMemEvent(strbytes.View(s), &e, m.locs, true) {
		panic("audit: MemorySink holds a malformed event")
	}
	e.Seq = seq
	return e
}

// Events returns the events held, oldest first.
func (m *MemorySink) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Event, m.n)
	for i := range m.n {
		out[i] = m.event(m.n - 1 - i)
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
	var e Event
	for i := range m.n {
		if _, seq := m.at(i); before != 0 && seq >= before {
			continue
		}
		m.view(i, &e)
		if !q.Match(&e) {
			continue
		}
		if len(p.Events) == limit {
			p.Next = encodeCursor(p.Events[limit-1].Seq)
			break
		}
		p.Events = append(p.Events, m.event(i))
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
