package audit

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fillEvent sets every field of e but Seq from next, by reflection, so
// that a field added to Event is covered, or fails the test if its type is
// new to it. With nonzero, every field it sets is nonzero.
func fillEvent(t testing.TB, e *Event, next func() uint64, nonzero bool) {
	t.Helper()
	str := func() string {
		n := next() % 24
		if nonzero {
			n++
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(next())
		}
		return string(b)
	}
	v := reflect.ValueOf(e).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		if name == "Seq" {
			continue
		}
		switch {
		case f.Type() == reflect.TypeFor[time.Time]():
			sec, nsec := int64(next()), int64(next()%1e9)
			if next()%2 == 0 { // mostly plausible times, also huge ones
				sec %= 1 << 36
			}
			tm := time.Unix(sec, nsec)
			switch next() % 4 {
			case 0:
				tm = tm.UTC()
			case 1: // Local, as time.Unix returns it
			case 2:
				tm = tm.In(time.FixedZone(str(), int(int32(next()))))
			case 3:
				tm = tm.In(time.FixedZone("", int(next()%24-12)*3600))
			}
			f.Set(reflect.ValueOf(tm))
		case f.Kind() == reflect.String:
			f.SetString(str())
		case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
			n := int64(next())
			if nonzero && n == 0 {
				n = -1
			}
			f.SetInt(n)
		case f.Kind() == reflect.Uint64:
			f.SetUint(max(next(), 1))
		case f.Kind() == reflect.Float64:
			x := math.Float64frombits(next())
			if nonzero && x == 0 {
				x = math.NaN()
			}
			f.SetFloat(x)
		case f.Type() == reflect.TypeFor[map[string]string]():
			m := map[string]string{}
			switch k := next() % 6; {
			case k == 0 && !nonzero:
				m = nil
			case k == 1 && !nonzero: // empty, not nil
			default:
				for range 1 + k {
					m[str()] = str()
				}
			}
			f.Set(reflect.ValueOf(m))
		default:
			t.Fatalf("fillEvent: Event.%s has a type (%s) it does not fill", name, f.Type())
		}
		if nonzero && f.IsZero() {
			t.Fatalf("fillEvent: Event.%s is zero", name)
		}
	}
}

// sameEvent reports how got differs from want, field by field: times by
// representation (instant, location), floats by their bits (NaN included).
func sameEvent(got, want *Event) error {
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		gf, wf := g.Field(i), w.Field(i)
		eq := reflect.DeepEqual(gf.Interface(), wf.Interface())
		if gf.Kind() == reflect.Float64 {
			eq = math.Float64bits(gf.Float()) == math.Float64bits(wf.Float())
		}
		if !eq {
			return fmt.Errorf("Event.%s = %#v, want %#v", g.Type().Field(i).Name, gf.Interface(), wf.Interface())
		}
	}
	return nil
}

// checkMemoryRoundTrip writes events to a MemorySink of capacity 2 and
// checks that it returns the last 2 exactly, numbered, through Events and
// Query.
func checkMemoryRoundTrip(t *testing.T, events []Event) {
	t.Helper()
	ctx := context.Background()
	m := NewMemorySink(2)
	for i := range events {
		if err := m.Write(ctx, events[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	held := events[max(len(events)-2, 0):]
	want := make([]Event, len(held))
	for i, e := range held {
		e.Seq = uint64(len(events) - len(held) + i + 1)
		want[i] = e
	}
	got := m.Events()
	if len(got) != len(want) {
		t.Fatalf("Events: %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if err := sameEvent(&got[i], &want[i]); err != nil {
			t.Fatalf("Events()[%d]: %v", i, err)
		}
	}
	p, err := m.Query(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != len(want) {
		t.Fatalf("Query: %d events, want %d", len(p.Events), len(want))
	}
	for i := range p.Events {
		if err := sameEvent(&p.Events[i], &want[len(want)-1-i]); err != nil {
			t.Fatalf("Query: event %d: %v", i, err)
		}
	}
}

// TestMemoryCodecAllFields sets every field of Event (by reflection: a
// field added later is covered) and checks that a MemorySink returns it.
func TestMemoryCodecAllFields(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		events := make([]Event, 3)
		for i := range events {
			fillEvent(t, &events[i], r.Uint64, true)
		}
		checkMemoryRoundTrip(t, events)
	}
}

func TestMemoryCodec(t *testing.T) {
	at := time.Date(2026, 12, 7, 13, 36, 39, 123456789, time.UTC)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	for _, tc := range []struct {
		name string
		e    Event
	}{
		{"zero", Event{}},
		{"request", Event{Time: at, RequestID: "K7GQ2XHRTLNM3WZPA5BCDEFJUV", IP: "192.0.2.1", Method: "GET",
			Path: "/v1/orders", Route: "GET /v1/orders", Status: 200, LatencyMS: 0.012, Bytes: 1 << 40,
			UserAgent: "curl/8.5.0", Headers: map[string]string{"Content-Type": "text/plain", "X-Api-Key": "[REDACTED]"},
			AuthMethod: "api_key", KeyID: "bk_test_pk_0123456789", Account: "acct_1", Mode: "test",
			Store: "store_1", Decision: Allow, Reason: "ok"}},
		{"management", Event{Time: at, Action: "key.revoked", Actor: "admin", KeyID: "k1", Decision: Deny, Reason: "refresh_reuse"}},
		{"gap", Event{Time: at, Gap: math.MaxUint64}},
		{"empty headers", Event{Headers: map[string]string{}}},
		{"empty header", Event{Headers: map[string]string{"": ""}}},
		{"negative", Event{Status: math.MinInt, Bytes: math.MinInt64, LatencyMS: -math.MaxFloat64}},
		{"NaN", Event{LatencyMS: math.NaN()}},
		{"infinite", Event{LatencyMS: math.Inf(-1)}},
		{"negative zero", Event{LatencyMS: math.Copysign(0, -1)}},
		{"invalid UTF-8", Event{Path: "/\xff\xfe", UserAgent: "\x00\u2028", Headers: map[string]string{"\x80": "\xc0"}}},
		{"long", Event{UserAgent: string(make([]byte, 100_000))}},
		{"local", Event{Time: at.In(time.Local)}},
		{"zone", Event{Time: at.In(paris)}},
		{"fixed zone", Event{Time: at.In(time.FixedZone("", -(3*3600 + 30*60)))}},
		{"year 1", Event{Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}},
		{"before year 1", Event{Time: time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"after year 9999", Event{Time: time.Date(300000, 1, 1, 0, 0, 0, 999999999, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkMemoryRoundTrip(t, []Event{tc.e})
			// And in a slot that held a larger event, then a smaller one.
			checkMemoryRoundTrip(t, []Event{{UserAgent: string(make([]byte, 300))}, {}, tc.e})
		})
	}
}

// TestMemoryCodecMonotonic: a time read from the clock comes back without
// its monotonic reading: the same instant and location.
func TestMemoryCodecMonotonic(t *testing.T) {
	for _, now := range []time.Time{time.Now(), time.Now().In(time.FixedZone("X", 3600))} {
		m := NewMemorySink(1)
		if err := m.Write(context.Background(), []Event{{Time: now}}); err != nil {
			t.Fatal(err)
		}
		got := m.Events()[0].Time
		if want := now.Round(0); got != want {
			t.Fatalf("time %v, want %v", got, want)
		}
	}
}

// TestMemoryCodecLocations: a sink keeps the first maxMemLocations
// locations other than UTC and Local by identity; times in any other come
// back in a fixed zone of the same name and offset.
func TestMemoryCodecLocations(t *testing.T) {
	at := time.Date(2026, 12, 7, 13, 0, 0, 5, time.UTC)
	m := NewMemorySink(100)
	var batch []Event
	for i := range maxMemLocations + 3 {
		batch = append(batch, Event{Time: at.In(time.FixedZone(fmt.Sprintf("Z%d", i), 60*i+1))})
	}
	batch = append(batch, Event{Time: at}, Event{Time: at.Local()}, Event{Time: batch[0].Time})
	if err := m.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for i, got := range m.Events() {
		want := batch[i].Time
		if i < maxMemLocations || i >= maxMemLocations+3 {
			if got.Time != want {
				t.Fatalf("event %d: time %v (%p), want %v (%p)", i, got.Time, got.Time.Location(), want, want.Location())
			}
			continue
		}
		gn, goff := got.Time.Zone()
		wn, wo := want.Zone()
		if !got.Time.Equal(want) || gn != wn || goff != wo || got.Time.String() != want.String() {
			t.Fatalf("event %d: time %v, want %v", i, got.Time, want)
		}
	}
}

// TestMemoryCodecTruncated: every proper prefix of a memory form, and
// anything appended to one, is refused.
func TestMemoryCodecTruncated(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		var e Event
		fillEvent(t, &e, r.Uint64, true)
		var locs []*time.Location
		b := appendMemEvent(nil, &e, &locs)
		var d Event
		if !decodeMemEvent(b, &d, locs, true) {
			t.Fatal("refused its own encoding")
		}
		for n := range len(b) {
			if decodeMemEvent(b[:n], &d, locs, true) {
				t.Fatalf("accepted %d bytes of %d", n, len(b))
			}
		}
		if decodeMemEvent(append(b, 0), &d, locs, true) {
			t.Fatal("accepted a trailing byte")
		}
	}
}

// TestMemorySinkWriteAllocs: once its slots fit the events, a full sink's
// writes allocate nothing.
func TestMemorySinkWriteAllocs(t *testing.T) {
	ctx := context.Background()
	m := NewMemorySink(100)
	batch := make([]Event, 10)
	for i := range batch {
		batch[i] = Event{Time: time.Now().UTC(), RequestID: fmt.Sprint(i), Path: "/v1/orders", Decision: Allow,
			Headers: map[string]string{"Content-Type": "application/json"}}
	}
	for range 20 {
		if err := m.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.Write(ctx, batch) }); n != 0 {
		t.Fatalf("%v allocations per Write", n)
	}
}

// FuzzMemoryCodec: any events, written to a MemorySink, come back exactly.
func FuzzMemoryCodec(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08hello, world\xff\xfe"))
	r := rand.New(rand.NewPCG(5, 6))
	for range 4 {
		b := make([]byte, 400)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		next := func() uint64 {
			var b [8]byte
			n := copy(b[:], data)
			data = data[n:]
			return binary.LittleEndian.Uint64(b[:])
		}
		events := make([]Event, 3)
		for i := range events {
			fillEvent(t, &events[i], next, false)
		}
		checkMemoryRoundTrip(t, events)
	})
}

// FuzzMemoryDecode: the decoder refuses or decodes any bytes, without
// panicking, and what it decodes encodes to a form it decodes the same.
func FuzzMemoryDecode(f *testing.F) {
	locs := []*time.Location{time.FixedZone("A", 3600)}
	var seeds []Event
	seeds = append(seeds, Event{}, Event{Time: time.Unix(1_700_000_000, 5).In(locs[0]), Path: "/x",
		Headers: map[string]string{"a": "b"}, Decision: Allow, Gap: 3},
		Event{Time: time.Unix(1_700_000_000, 5).In(time.FixedZone("B", 5*3600+1800)), Reason: "r"}) // memFixed: not in locs
	for _, e := range seeds {
		l := append(slices.Clone(locs), make([]*time.Location, maxMemLocations-len(locs))...) // full: other locations are memFixed
		f.Add(appendMemEvent(nil, &e, &l))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e, v Event
		ok := decodeMemEvent(b, &e, locs, true)
		// A view (no headers) accepts the same bytes, and reads the same
		// event but its Headers, and its time but maybe its location.
		if vok := decodeMemEvent(b, &v, locs, false); vok != ok {
			t.Fatalf("decoded: %v, as a view: %v", ok, vok)
		}
		if !ok {
			return
		}
		if v.Headers != nil || !v.Time.Equal(e.Time) {
			t.Fatalf("view: Headers %v, time %v, want nil, %v", v.Headers, v.Time, e.Time)
		}
		v.Headers, v.Time = e.Headers, e.Time
		if err := sameEvent(&v, &e); err != nil {
			t.Fatalf("view: %v", err)
		}
		l := locs
		again := appendMemEvent(nil, &e, &l)
		var d Event
		if !decodeMemEvent(again, &d, l, true) {
			t.Fatalf("refused the encoding of what it decoded: %x", again)
		}
		if err := sameEvent(&d, &e); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMemorySinkLayout writes events of very different sizes, in batches,
// to a small sink: it always returns the newest events exactly, and a
// burst of large events does not keep its buffer large.
func TestMemorySinkLayout(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))
	const capacity = 7
	m := NewMemorySink(capacity)
	var written []Event
	for round := range 600 {
		batch := make([]Event, 1+r.IntN(2*capacity)*r.IntN(2)) // often 1
		for i := range batch {
			fillEvent(t, &batch[i], r.Uint64, false)
			switch {
			case round >= 200 && round < 220: // a burst of large events
				batch[i].UserAgent = string(make([]byte, 10_000+r.IntN(50_000)))
			case round < 200 && r.IntN(3) == 0:
				batch[i].Path = string(make([]byte, r.IntN(3_000)))
			}
		}
		if err := m.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		written = append(written, batch...)
		checkLayout(t, m)
		got := m.Events()
		want := written[max(len(written)-capacity, 0):]
		if len(got) != len(want) {
			t.Fatalf("round %d: %d events held, want %d", round, len(got), len(want))
		}
		for i := range got {
			w := want[i]
			w.Seq = uint64(len(written) - len(want) + i + 1)
			if err := sameEvent(&got[i], &w); err != nil {
				t.Fatalf("round %d: event %d: %v", round, i, err)
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.data) > max(minMemData, 16*m.used) {
		t.Fatalf("%d bytes of buffer for %d bytes of events", len(m.data), m.used)
	}
}

// checkLayout checks that the events m holds lie in its buffer without
// overlapping, that it counts their bytes, and that they fill an eighth of
// it at least, past minMemData.
func checkLayout(t *testing.T, m *MemorySink) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	held := make([]memSlot, 0, m.n)
	used := 0
	for i := range m.n {
		s := m.slots[(m.next-1-i+len(m.slots))%len(m.slots)]
		held = append(held, s)
		used += s.len
	}
	slices.SortFunc(held, func(a, b memSlot) int { return a.off - b.off })
	for i, s := range held {
		if s.off < 0 || s.len <= 0 || s.off+s.len > len(m.data) || i > 0 && held[i-1].off+held[i-1].len > s.off {
			t.Fatalf("slots %v overlap or leave a buffer of %d bytes", held, len(m.data))
		}
	}
	if used != m.used {
		t.Fatalf("%d bytes held, counted %d", used, m.used)
	}
	if len(m.data) > minMemData && used < len(m.data)/8 {
		t.Fatalf("%d bytes of buffer for %d bytes of events", len(m.data), used)
	}
}
