package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// encodingJSON is the reference appendJSON must match.
func encodingJSON(e *Event) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(e)
	return buf.Bytes(), err
}

func checkAppendJSON(t *testing.T, e *Event) {
	t.Helper()
	want, err := encodingJSON(e)
	got, ok := appendJSON(nil, e, e.Seq)
	if err != nil {
		if ok {
			t.Fatalf("encoding/json refuses %+v (%v), appendJSON wrote %s", e, err, got)
		}
		return
	}
	if !ok {
		// Left to encoding/json: allowed, but only for what it refuses.
		t.Fatalf("appendJSON refused %+v, which encoding/json encodes as %s", e, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendJSON differs from encoding/json:\n got %s\nwant %s", got, want)
	}
}

func TestAppendJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 30, 45, 123456000, time.UTC)
	for _, e := range []Event{
		{Time: at},
		{Seq: 7, Time: at, RequestID: "r1", IP: "192.0.2.1", Country: "FR", Method: "GET", Path: "/v1/x?a=1&b=<2>", Route: "GET /v1/x",
			Status: 200, LatencyMS: 0.123, Bytes: 42, UserAgent: "curl/8 \"q\" \\ \u2028 \x00 \x7f é \xff",
			Headers:    map[string]string{"X-Store-Id": "s1", "Content-Type": "application/json", "A": "\b\f\n\r\t"},
			AuthMethod: "api_key", KeyID: "k", TokenID: "t", Subject: "s", Account: "a", Mode: "test", Store: "s1",
			Decision: Allow, Reason: "ok", Action: "key.created", Actor: "bk", Gap: 3},
		{Time: at.Add(-at.Sub(time.Time{})), LatencyMS: 1e-7},
		{Time: at, LatencyMS: 1e21},
		{Time: at, LatencyMS: -2.5e-9},
		{Time: at, LatencyMS: 123456789.0125},
		{Time: at, LatencyMS: math.NaN()},
		{Time: at, LatencyMS: math.Inf(1)},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: at.In(time.FixedZone("X", 3600))},
		{Time: time.Date(5, 2, 3, 4, 5, 6, 0, time.UTC)},
		{Time: time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC)},
		{Time: time.Date(2026, 1, 1, 0, 0, 0, 100000000, time.UTC)},
		{Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Time: time.Date(2026, 1, 1, 0, 0, 0, 5, time.Local)},
	} {
		checkAppendJSON(t, &e)
	}
}

// FuzzAppendJSON checks appendJSON against encoding/json, byte for byte.
func FuzzAppendJSON(f *testing.F) {
	f.Add(uint64(1), int64(1795000000123456789), "req", "/v1/x?a=<b>&c", "Mozilla \"x\" \\ \u2028", "k", "v\x01", 200, 0.25, int64(10), "key.created")
	f.Add(uint64(0), int64(0), "", "", "\xff\xfe", "", "", 0, 1e-7, int64(0), "")
	f.Fuzz(func(t *testing.T, seq uint64, nanos int64, id, path, ua, hname, hval string, status int, latency float64, n int64, action string) {
		e := Event{Seq: seq, Time: time.Unix(0, nanos).UTC(), RequestID: id, Path: path, UserAgent: ua, Status: status,
			LatencyMS: latency, Bytes: n, Action: action, Actor: hval, Reason: hname}
		if hname != "" {
			e.Headers = map[string]string{hname: hval, "X-" + hname: ua}
		}
		checkAppendJSON(t, &e)
	})
}

// TestAppendJSONCoversEveryField fills every field of an Event, found by
// reflection, so that a field added to Event but not to appendJSON fails
// here instead of being silently dropped from the audit files.
func TestAppendJSONCoversEveryField(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 30, 45, 123456000, time.UTC)
	typ := reflect.TypeFor[Event]()
	// set gives field i of e a non-zero value of its type.
	set := func(t *testing.T, e *Event, i int) {
		t.Helper()
		f, v := typ.Field(i), reflect.ValueOf(e).Elem().Field(i)
		switch {
		case f.Type == reflect.TypeFor[time.Time]():
			v.Set(reflect.ValueOf(at))
		case f.Type.Kind() == reflect.String:
			v.SetString("v_" + f.Name)
		case f.Type.Kind() == reflect.Int, f.Type.Kind() == reflect.Int64:
			v.SetInt(int64(100 + i))
		case f.Type.Kind() == reflect.Uint64:
			v.SetUint(uint64(100 + i))
		case f.Type.Kind() == reflect.Float64:
			v.SetFloat(float64(100+i) + 0.25)
		case f.Type == reflect.TypeFor[map[string]string]():
			v.Set(reflect.ValueOf(map[string]string{"X-" + f.Name: "v_" + f.Name}))
		default:
			t.Fatalf("Event.%s has type %s, which this test cannot fill: extend it (and appendJSON)", f.Name, f.Type)
		}
		if v.IsZero() {
			t.Fatalf("Event.%s is still zero", f.Name)
		}
	}
	jsonName := func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Fatalf("Event.%s has no JSON name", f.Name)
		}
		return name
	}

	var all Event
	for i := range typ.NumField() {
		set(t, &all, i)
	}
	got, ok := appendJSON(nil, &all, all.Seq)
	if !ok {
		t.Fatalf("appendJSON refused %+v", all)
	}
	for i := range typ.NumField() {
		if name := jsonName(typ.Field(i)); !bytes.Contains(got, []byte(`"`+name+`":`)) {
			t.Errorf("appendJSON drops Event.%s (%q): %s", typ.Field(i).Name, name, got)
		}
	}
	checkAppendJSON(t, &all)

	// Each field alone too, so that its omitempty handling is checked.
	for i := range typ.NumField() {
		t.Run(typ.Field(i).Name, func(t *testing.T) {
			e := Event{Time: at}
			set(t, &e, i)
			checkAppendJSON(t, &e)
		})
	}
}

// TestJSONPlain8 checks jsonPlain8 against a byte-by-byte test: every
// byte value at every position among plain bytes, and many mixed words.
func TestJSONPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	check := func(w []byte) {
		t.Helper()
		want := true
		for _, c := range w {
			want = want && plain(c)
		}
		if got := jsonPlain8(string(w)); got != want {
			t.Fatalf("jsonPlain8(%q) = %v", w, got)
		}
	}
	var w [8]byte
	for c := range 256 {
		for p := range w {
			for _, fill := range []byte{'a', ' ', '~', '!', '#', '[', ']', 0x7f} {
				for j := range w {
					w[j] = fill
				}
				w[p] = byte(c)
				check(w[:])
			}
		}
	}
	x := uint64(0x9e3779b97f4a7c15)
	for i := range 1 << 20 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		for j := range w {
			w[j] = byte(x >> (8 * j))
			if i%2 == 0 {
				w[j] = 0x20 + w[j]%0x60 // mostly plain, with every neighbour of a special byte
			}
		}
		check(w[:])
	}
}

// FuzzAppendFloat checks appendFloat, its fast path for thousandths
// (appendMilli) included, against encoding/json: for any float, and for
// milli/1000 for any integer milli, as a latency in whole microseconds
// is.
func FuzzAppendFloat(f *testing.F) {
	for _, m := range []int64{1, -1, 12, 999, 1000, 1001, 1234567, -120, 999999999999, 1000000000000, 1 << 53} {
		f.Add(float64(m)/1000+0.5, m)
	}
	f.Add(1e-7, int64(0))
	f.Fuzz(func(t *testing.T, x float64, milli int64) {
		for _, v := range []float64{x, float64(milli) / 1000, float64(milli%1e12) / 1000} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendFloat(nil, v); string(got) != string(want) {
				t.Fatalf("appendFloat(%v) = %s, encoding/json %s", v, got, want)
			}
		}
	})
}
