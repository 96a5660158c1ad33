package audit

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/strbytes"
)

// The memory form of an [Event] is how a [MemorySink] holds it: bytes,
// which hold no pointers, so that the garbage collector neither scans the
// events a sink keeps nor marks the strings they would pin, however many
// it keeps. It holds every field but Seq (the sink knows it from the
// slot):
//
//	Time            varint Unix seconds, uvarint nanoseconds, then a
//	                location byte: memUTC, memLocal, memTable+i (the i-th
//	                of the sink's locations), or memFixed followed by the
//	                zone's name (a string) and its offset (a varint)
//	Status, Bytes   varint
//	LatencyMS       the 8 bytes of its IEEE 754 bits, little endian
//	Gap             uvarint
//	the strings     those of memStrings, in its order, each a uvarint
//	                length then the bytes
//	Headers         uvarint 0 for a nil map, else its length + 1, then
//	                each name and value (strings), in no particular order
//
// A Time keeps its instant, without a monotonic clock reading (a stored
// event needs none), and its location when it is UTC (as request and
// management events are), Local, or one of the first [maxMemLocations]
// other locations the sink saw. Past those, a time comes back in a fixed
// zone of the name and offset it had, as a [FileSink]'s times come back
// from JSON: the same instant, printed the same way.

// Location bytes.
const (
	memUTC   = 0
	memLocal = 1
	memFixed = 2
	memTable = 3 // memTable+i: the i-th location of the sink's table
)

// maxMemLocations bounds the locations a MemorySink keeps by identity, so
// that an emitter that makes a new Location for each event (as parsing an
// RFC 3339 offset does) cannot grow it without bound. MemorySink's doc
// comment names it.
const maxMemLocations = 8

// appendMemEvent appends the memory form of e to b. locs is the sink's
// table of locations, to which it may add Time's.
func appendMemEvent(b []byte, e *Event, locs *[]*time.Location) []byte {
	b = binary.AppendVarint(b, e.Time.Unix())
	b = binary.AppendUvarint(b, uint64(e.Time.Nanosecond()))
	switch loc := e.Time.Location(); loc {
	case time.UTC:
		b = append(b, memUTC)
	case time.Local:
		b = append(b, memLocal)
	default:
		i := slices.Index(*locs, loc)
		if i < 0 && len(*locs) < maxMemLocations {
			*locs = append(*locs, loc)
			i = len(*locs) - 1
		}
		if i >= 0 {
			b = append(b, memTable+byte(i))
			break
		}
		name, offset := e.Time.Zone()
		b = append(b, memFixed)
		b = appendMemString(b, name)
		b = binary.AppendVarint(b, int64(offset))
	}
	b = binary.AppendVarint(b, int64(e.Status))
	b = binary.AppendVarint(b, e.Bytes)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.LatencyMS))
	b = binary.AppendUvarint(b, e.Gap)
	// The strings of memStrings, in its order, one call each.
	b = appendMemString(appendMemString(appendMemString(appendMemString(b, e.RequestID), e.IP), e.Country), e.Method)
	b = appendMemString(appendMemString(appendMemString(b, e.Path), e.Route), e.UserAgent)
	b = appendMemString(appendMemString(appendMemString(appendMemString(b, e.AuthMethod), e.KeyID), e.TokenID), e.Subject)
	b = appendMemString(appendMemString(appendMemString(b, e.Account), e.Mode), e.Store)
	b = appendMemString(appendMemString(appendMemString(appendMemString(b, string(e.Decision)), e.Reason), e.Action), e.Actor)
	if e.Headers == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Headers))+1)
	for name, value := range e.Headers {
		b = appendMemString(b, name)
		b = appendMemString(b, value)
	}
	return b
}

// memStrings returns the string fields of e, in their order in the
// memory form (which appendMemEvent writes them in, one call each:
// FuzzMemoryCodec decodes what it writes).
func memStrings(e *Event) [18]*string {
	return [...]*string{&e.RequestID, &e.IP, &e.Country, &e.Method, &e.Path, &e.Route, &e.UserAgent,
		&e.AuthMethod, &e.KeyID, &e.TokenID, &e.Subject, &e.Account, &e.Mode, &e.Store,
		(*string)(&e.Decision), &e.Reason, &e.Action, &e.Actor}
}

func appendMemString(b []byte, s string) []byte {
	if len(s) < 0x80 {
		b = append(b, byte(len(s)))
		if len(s) == 0 {
			return b
		}
		return append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// memLocAt returns the offset in the memory form b of its location byte,
// after Time's seconds and nanoseconds, or -1 if b is malformed there.
func memLocAt(b []byte) int {
	_, n := binary.Varint(b)
	if n <= 0 {
		return -1
	}
	_, k := binary.Uvarint(b[n:])
	if k <= 0 || n+k >= len(b) {
		return -1
	}
	return n + k
}

// decodeMemEvent sets e (but Seq) to the event of memory form b, with
// locs the table of the sink that encoded it, and reports whether b was
// well formed. The strings of e alias b, which must not change while they
// are in use. Headers are decoded if headers is set, else left nil, and
// then a time in a fixed zone (memFixed) is left in UTC, the same instant,
// without the Location each decoding would allocate: a view for filters,
// which compare instants.
func decodeMemEvent(b []byte, e *Event, locs []*time.Location, headers bool) bool {
	return decodeMemForm(b, e, locs, headers, headers)
}

// decodeMemForm is decodeMemEvent, with a time in a fixed zone left in
// UTC unless zones is set, also when headers is: for a reader that
// wants the instant only, as a FileSink encoding the event does.
func decodeMemForm(b []byte, e *Event, locs []*time.Location, headers, zones bool) bool {
	r := memReader{b: b, ok: true}
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= 1e9 {
		return false
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	switch tag := r.byte(); {
	case tag == memUTC:
	case tag == memLocal:
		t = t.In(time.Local)
	case tag == memFixed:
		name := r.str()
		offset := r.varint()
		if offset != int64(int(offset)) {
			return false
		}
		if zones {
			t = t.In(time.FixedZone(strings.Clone(name), int(offset))) // the Location keeps name
		}
	case int(tag-memTable) < len(locs):
		t = t.In(locs[tag-memTable])
	default:
		return false
	}
	*e = Event{Time: t}
	status := r.varint()
	if status != int64(int(status)) {
		return false
	}
	e.Status = int(status)
	e.Bytes = r.varint()
	e.LatencyMS = math.Float64frombits(r.uint64())
	e.Gap = r.uvarint()
	for _, p := range memStrings(e) {
		// Most strings are shorter than 128 bytes, their length one
		// byte: read them here, inline.
		if b := r.b; len(b) > 0 {
			if n := int(b[0]); n < 0x80 && n < len(b) {
				r.b = b[n+1:]
				*p = strbytes.String(b[1 : n+1])
				continue
			}
		}
		*p = r.str()
	}
	if n := r.uvarint(); n > 0 {
		n--
		if n > uint64(len(r.b)/2) { // each header takes 2 bytes at least
			return false
		}
		if headers {
			e.Headers = make(map[string]string, n)
		}
		for range n {
			name, value := r.str(), r.str()
			if headers {
				e.Headers[name] = value
			}
		}
	}
	return r.ok && len(r.b) == 0
}

// memReader reads a memory form. Past an error, ok is false and it reads
// zeros.
type memReader struct {
	b  []byte
	ok bool
}

func (r *memReader) fail() {
	r.b, r.ok = nil, false
}

func (r *memReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *memReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *memReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *memReader) uint64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// str returns the next string, aliasing r.b.
func (r *memReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := strbytes.String(r.b[:n])
	r.b = r.b[n:]
	return s
}
