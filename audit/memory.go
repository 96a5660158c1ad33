package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"slices"
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
// It holds the events encoded, one after the other in a buffer without
// pointers that it writes around: the garbage collector neither scans what
// a full sink holds nor marks an object per event, and a full sink's
// writes allocate nothing once the buffer fits the events. The events it
// returns are decoded copies, each with its own Headers map; their times
// are the instants written, without a monotonic clock reading, in the
// location they were written in when it is UTC, Local or one of the first
// 8 other locations the sink saw, else in a fixed zone of the same name
// and offset (as a [FileSink]'s come back from JSON).
type MemorySink struct {
	mu sync.Mutex
	// data holds the memory forms (memcodec.go) of the events held, oldest
	// to newest around it: from the oldest's offset, up to end, wrapping
	// to offset 0 where an event did not fit before the end of data.
	data []byte
	end  int // offset just past the newest event
	used int // the sum of the lengths of the events held
	// slots has capacity entries: slots[(next-1-i) mod capacity] locates
	// in data the i-th newest event.
	slots   []memSlot
	n       int              // events held
	next    int              // slot of the next write
	seq     uint64           // Seq of the newest event
	locs    []*time.Location // the times' locations, but UTC and Local (memcodec.go)
	scratch []byte           // where Write encodes an event
}

// memSlot locates an event in MemorySink.data.
type memSlot struct{ off, len int }

// NewMemorySink returns a MemorySink keeping the newest capacity events
// (at least 1).
func NewMemorySink(capacity int) *MemorySink {
	return &MemorySink{slots: make([]memSlot, max(capacity, 1))}
}

// minMemData is the size below which MemorySink.data never shrinks.
const minMemData = 64 << 10

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
		m.write(&batch[i])
	}
	if cap(m.scratch) > minMemData {
		m.scratch = nil // a large event's
	}
	return nil
}

// writeRecords is Write for the records of an encoding Writer (see
// memSink): it copies each event's memory form, numbering them, and
// encodes only those whose location the sink's own table must name
// otherwise than the Writer's locs does.
func (m *MemorySink) writeRecords(ctx context.Context, recs []byte, locs []*time.Location) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(recs) > 0 {
		var form []byte
		form, recs = nextRecord(recs)
		m.writeForm(form, locs)
	}
	if cap(m.scratch) > minMemData {
		m.scratch = nil // a large event's
	}
	return nil
}

// tryWrite stores e as the newest event, as Write would (encoded in
// place when there is room), unless another holds the sink's lock (a
// reader, say): it reports whether it did. It is a Writer's Emit writing
// an event itself (Writer.mem), which must not wait for a reader.
func (m *MemorySink) tryWrite(e *Event) bool {
	if !m.mu.TryLock() {
		return false
	}
	m.write(e)
	if cap(m.scratch) > minMemData {
		m.scratch = nil // a large event's
	}
	m.mu.Unlock()
	return true
}

// writeForm stores the memory form b, whose location byte names an entry
// of locs, as the newest event. m.mu is held.
func (m *MemorySink) writeForm(b []byte, locs []*time.Location) {
	if len(locs) == 0 { // no form names a location of the table: copy it
		m.evict()
		m.store(b)
		return
	}
	at := memLocAt(b)
	if at < 0 {
		panic("audit: a Writer handed a malformed event")
	}
	tag := b[at]
	if tag >= memTable {
		// The Writer's table is not the sink's: name the location in the
		// sink's table, if it has room for it, else store the event in
		// a fixed zone, as write would.
		loc := locs[tag-memTable]
		i := slices.Index(m.locs, loc)
		if i < 0 && len(m.locs) < maxMemLocations {
			m.locs = append(m.locs, loc)
			i = len(m.locs) - 1
		}
		if i < 0 {
			var e Event
			if !decodeMemEvent(b, &e, locs, true) {
				panic("audit: a Writer handed a malformed event")
			}
			m.write(&e)
			return
		}
		tag = memTable + byte(i)
	}
	m.evict()
	off := m.store(b)
	m.data[off+at] = tag
}

// evict makes room for one more event, evicting the oldest if the sink is
// full. m.mu is held.
func (m *MemorySink) evict() {
	if m.n == len(m.slots) {
		m.used -= m.slots[m.next].len // the oldest's slot
		m.n--
	}
}

// write stores e as the newest event, evicting the oldest if the sink is
// full. m.mu is held.
func (m *MemorySink) write(e *Event) {
	m.evict()
	// Where the room after the newest event holds as much as the scratch
	// buffer (the largest event it encoded), encode there, without a copy.
	var b []byte
	if off, free := m.free(); free >= cap(m.scratch) && cap(m.scratch) > 0 {
		b = appendMemEvent(m.data[off:off:off+free], e, &m.locs)
		if cap(b) == free { // it fit
			m.place(off, len(b))
			if len(m.data) > minMemData && m.used < len(m.data)/8 {
				m.relayout(2 * m.used) // see store
			}
			return
		}
		m.scratch = b // the largest yet, in a buffer of its own
	} else {
		m.scratch = appendMemEvent(m.scratch[:0], e, &m.locs)
		b = m.scratch
	}
	m.store(b)
}

// store copies the memory form b into data as the newest event, in a
// sink with room for one more, and returns its offset. m.mu is held.
func (m *MemorySink) store(b []byte) int {
	off, ok := m.room(len(b))
	if !ok || m.used+len(b) < len(m.data)/8 && len(m.data) > minMemData {
		// Too small, or far too large, as a burst of large events leaves
		// it once they are evicted: lay the events out anew. (Shrunk to
		// twice their size, it shrinks again once they fill less than a
		// quarter of that: a copy of the events held per 3/4 of them
		// evicted, at most.)
		m.relayout(2 * (m.used + len(b)))
		off = m.end
	}
	copy(m.data[off:], b)
	m.place(off, len(b))
	return off
}

// place records the size bytes at off in data as the newest event. m.mu
// is held.
func (m *MemorySink) place(off, size int) {
	m.slots[m.next] = memSlot{off, size}
	m.end = off + size
	m.used += size
	m.n++
	m.seq++
	if m.next++; m.next == len(m.slots) {
		m.next = 0
	}
}

// free returns the offset just past the newest event and how many bytes
// are free from there on, up to the oldest event or the end of data.
// m.mu is held.
func (m *MemorySink) free() (off, n int) {
	if m.n == 0 {
		return 0, len(m.data)
	}
	if start := m.slots[m.oldest()].off; m.end <= start {
		return m.end, start - m.end // data[start:] and data[:end] are held
	}
	return m.end, len(m.data) - m.end // data[start:end] is held
}

// room returns where in data an event of size bytes fits after the events
// held, if it does: after the newest, or at the start of data. m.mu is
// held.
func (m *MemorySink) room(size int) (int, bool) {
	off, free := m.free()
	if size <= free {
		return off, true
	}
	if m.n > 0 {
		if start := m.slots[m.oldest()].off; m.end > start { // not wrapped yet
			return 0, size <= start
		}
	}
	return 0, false
}

// oldest returns the slot of the oldest event held. m.mu is held.
func (m *MemorySink) oldest() int {
	return (m.next - m.n + len(m.slots)) % len(m.slots)
}

// relayout moves the events held, oldest first, to the start of a new
// data of size bytes. m.mu is held.
func (m *MemorySink) relayout(size int) {
	data := make([]byte, size)
	off := 0
	for i, j := 0, m.oldest(); i < m.n; i++ {
		s := &m.slots[j]
		copy(data[off:], m.data[s.off:s.off+s.len])
		s.off = off
		off += s.len
		if j++; j == len(m.slots) {
			j = 0
		}
	}
	m.data, m.end = data, off
}

// at returns the memory form and the Seq of the i-th newest event held (0
// is the newest). m.mu is held.
func (m *MemorySink) at(i int) ([]byte, uint64) {
	s := m.slots[(m.next-1-i+2*len(m.slots))%len(m.slots)]
	return m.data[s.off : s.off+s.len : s.off+s.len], m.seq - uint64(i)
}

// view sets e to the i-th newest event held, Headers aside, its strings
// aliasing the sink's buffer, its time maybe in UTC (decodeMemEvent): e is
// for filtering under m.mu, and must not outlive it. m.mu is held.
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
	all := q.matchesAll() // a page of everything decodes only what it returns
	for i := range m.n {
		if _, seq := m.at(i); before != 0 && seq >= before {
			continue
		}
		if !all {
			if b, _ := m.at(i); !q.mayMatch(b) {
				continue
			}
			m.view(i, &e)
			if !q.Match(&e) {
				continue
			}
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

// mayMatch reports whether the memory form b may hold an event that q
// matches: false when a string that q filters on appears nowhere in b
// (an event's memory form holds its strings as they are), so that a
// filtered Query decodes only the events that may match. A filter left
// out here only costs a decoding.
func (q *Query) mayMatch(b []byte) bool {
	for _, s := range [...]string{q.KeyID, q.Account, q.Mode, q.Store, q.IP, q.Reason, string(q.Decision), q.Action} {
		if s != "" && !bytes.Contains(b, strbytes.View(s)) {
			return false
		}
	}
	return true
}

// matchesAll reports whether q has no filter, so that Match holds for
// every event (TestQueryMatchesAll keeps it to Match's filters).
func (q *Query) matchesAll() bool {
	return q.KeyID == "" && q.Account == "" && q.Mode == "" && q.Store == "" && q.IP == "" &&
		q.Reason == "" && q.Decision == "" && q.Action == "" && q.Since.IsZero() && q.Until.IsZero()
}

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
