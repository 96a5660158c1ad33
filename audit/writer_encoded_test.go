package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// encodedEvents are events of every shape: all fields, headers, strings
// JSON escapes, times in UTC, Local, and more locations than a
// MemorySink names (a new one for some events, one shared by others),
// with and without a monotonic clock reading.
func encodedEvents() []audit.Event {
	shared := time.FixedZone("SHR", -3*3600)
	at := time.Date(2026, 12, 7, 16, 15, 18, 123456789, time.UTC)
	var events []audit.Event
	for i := range 40 {
		e := audit.Event{Time: at.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprintf("r%06d", i),
			IP: "192.0.2.1", Country: "FR", Method: "GET", Path: "/v1/orders?q=\"x\"\n\u2028é", Route: "GET /v1/orders",
			Status: 200 + i, LatencyMS: float64(i) / 7, Bytes: int64(i * 1000), UserAgent: "load/1.0 \x01\xff",
			AuthMethod: "api_key", KeyID: "bk_test_pk_0123456789", TokenID: "tok", Subject: "sub", Account: "acct_1",
			Mode: "test", Store: "store_1", Decision: audit.Allow, Reason: "ok", Action: "key.created", Actor: "admin"}
		switch i % 5 {
		case 1:
			e.Time = e.Time.In(time.Local)
		case 2:
			e.Time = e.Time.In(time.FixedZone(fmt.Sprintf("Z%d", i), i*60)) // a location of its own
		case 3:
			e.Time = e.Time.In(shared)
		case 4:
			e.Time = time.Now() // a monotonic clock reading, in Local
			e.Headers = map[string]string{"Accept": "*/*", "X-B": "v\"", "X-A": ""}
		}
		if i%7 == 0 {
			e = audit.Event{Time: e.Time, Action: "key.revoked"} // few fields
		}
		events = append(events, e)
	}
	return events
}

// TestWriterEncodedSinks checks that this package's sinks behind a
// Writer, which hands them events in memory form (or, to FileSinks alone,
// as JSON lines), store what they store when they are written to
// directly: the same events, the same file.
func TestWriterEncodedSinks(t *testing.T) {
	for _, withMemory := range []bool{true, false} {
		t.Run(fmt.Sprintf("memory=%v", withMemory), func(t *testing.T) { testWriterEncodedSinks(t, withMemory, encodedEvents()) })
	}
}

// FuzzWriterEncoded is TestWriterEncodedSinks for events of any strings,
// time, location, latency and headers.
func FuzzWriterEncoded(f *testing.F) {
	f.Add(int64(1795000000123456789), 0, "r1", "/v1/x?a=<b>&c", "Mozilla \"x\" \\ \u2028", "k", "v\x01", 200, 0.25, int64(10), false)
	f.Add(int64(-5), 3600, "", "\xff\xfe", "", "", "", 0, 1e-7, int64(-1), true)
	f.Fuzz(func(t *testing.T, nanos int64, offset int, id, path, ua, hname, hval string, status int, latency float64, n int64, withMemory bool) {
		at := time.Unix(0, nanos)
		if offset%2 == 0 {
			at = at.UTC()
		} else if offset%3 == 0 {
			at = at.In(time.FixedZone(hname, offset%100000))
		}
		if math.IsNaN(latency) || math.IsInf(latency, 0) {
			latency = 0 // (an event FileSink refuses: TestWriterEncodedUnencodable)
		}
		e := audit.Event{Time: at, RequestID: id, Path: path, UserAgent: ua, Status: status, LatencyMS: latency,
			Bytes: n, Action: hval, Actor: hname, Reason: ua}
		if hname != "" {
			e.Headers = map[string]string{hname: hval, "X-" + hname: ua}
		}
		events := []audit.Event{e, {Time: at.Add(time.Second), KeyID: path}, e}
		for _, e := range events {
			if y := e.Time.UTC().Year(); y < 0 || y > 9999 {
				t.Skip("a time encoding/json refuses")
			}
		}
		testWriterEncodedSinks(t, withMemory, events)
	})
}

func testWriterEncodedSinks(t *testing.T, withMemory bool, events []audit.Event) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(name string) *audit.FileSink {
		f, err := audit.OpenFile(audit.FileConfig{Path: filepath.Join(dir, name), Sync: audit.SyncNever})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		return f
	}
	viaMem, viaFile := audit.NewMemorySink(1000), open("via.jsonl")
	sinks := []audit.Sink{viaFile}
	if withMemory {
		sinks = append(sinks, viaMem)
	}
	w := audit.NewWriter(audit.WriterConfig{Sinks: sinks, BatchSize: 7})
	for i, e := range events {
		if err := w.Emit(ctx, e, audit.Block); err != nil {
			t.Fatal(err)
		}
		if i%9 == 0 {
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	directMem, directFile := audit.NewMemorySink(1000), open("direct.jsonl")
	for i := 0; i < len(events); i += 5 {
		batch := events[i:min(i+5, len(events))]
		if err := directMem.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := directFile.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}

	if withMemory {
		got, want := viaMem.Events(), directMem.Events()
		if len(got) != len(events) || len(want) != len(events) {
			t.Fatalf("%d and %d events, want %d", len(got), len(want), len(events))
		}
		for i := range got {
			g, w := got[i], want[i]
			gn, go_ := g.Time.Zone()
			wn, wo := w.Time.Zone()
			if !g.Time.Equal(w.Time) || gn != wn || go_ != wo || g.Time.Location().String() != w.Time.Location().String() {
				t.Fatalf("event %d: time %v via a Writer, %v written directly", i, g.Time, w.Time)
			}
			g.Time, w.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("event %d:\n%+v via a Writer,\n%+v written directly", i, g, w)
			}
		}
	}
	via, err := os.ReadFile(filepath.Join(dir, "via.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := os.ReadFile(filepath.Join(dir, "direct.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(via, direct) || bytes.Count(via, []byte("\n")) != len(events) {
		t.Fatalf("file via a Writer:\n%s\nwritten directly:\n%s", via, direct)
	}
}

// TestWriterEncodedUnencodable checks that an event that encoding/json
// refuses (a NaN latency) fails a FileSink's batch behind a Writer with
// the error it fails Write with, with or without a MemorySink beside it.
func TestWriterEncodedUnencodable(t *testing.T) {
	for _, withMemory := range []bool{true, false} {
		t.Run(fmt.Sprintf("memory=%v", withMemory), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			file, err := audit.OpenFile(audit.FileConfig{Path: path, Sync: audit.SyncNever})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = file.Close() })
			bad := audit.Event{Time: time.Now().UTC(), RequestID: "r1", LatencyMS: math.NaN()}
			want := file.Write(ctx, []audit.Event{bad})
			if want == nil {
				t.Fatal("Write took a NaN latency")
			}
			sinks := []audit.Sink{file}
			if withMemory {
				sinks = append(sinks, audit.NewMemorySink(10))
			}
			failed := make(chan error, 1)
			w := audit.NewWriter(audit.WriterConfig{Sinks: sinks, OnError: func(_ int, err error) {
				select {
				case failed <- err:
				default:
				}
			}})
			if err := w.Emit(ctx, bad, audit.Block); err != nil {
				t.Fatal(err)
			}
			got := <-failed // within FlushInterval
			closeCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if err := w.Close(closeCtx); err == nil {
				t.Fatal("Close wrote the event")
			}
			if got.Error() != want.Error() {
				t.Fatalf("the Writer's sink failed with %q, Write with %q", got, want)
			}
			if st := w.Stats(); st.Written != 0 || st.Dropped != 1 {
				t.Fatalf("Stats %+v", st)
			}
		})
	}
}

// TestWriterEncodedDrop drops events under Drop before a FileSink that
// syncs every batch (with or without a MemorySink beside it), and checks
// that the sinks record every event kept and gap markers for the rest.
func TestWriterEncodedDrop(t *testing.T) {
	for _, withMemory := range []bool{true, false} {
		t.Run(fmt.Sprintf("memory=%v", withMemory), func(t *testing.T) { testWriterEncodedDrop(t, withMemory) })
	}
}

func testWriterEncodedDrop(t *testing.T, withMemory bool) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	file, err := audit.OpenFile(audit.FileConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = file.Close() })
	mem := audit.NewMemorySink(1 << 20)
	sinks := []audit.Sink{file}
	if withMemory {
		sinks = append(sinks, mem)
	}
	w := audit.NewWriter(audit.WriterConfig{Sinks: sinks, QueueSize: 4, BatchSize: 2})
	for i := 0; i < 100000 && (i < 1000 || w.Stats().Dropped == 0); i++ {
		_ = w.Emit(ctx, req(i), audit.Drop)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	checkInvariant(t, st)
	if st.Dropped == 0 {
		t.Fatal("no event dropped")
	}
	log := readLog(t, path)
	events, gaps := checkLog(t, log, true)
	if uint64(events) != st.Written || gaps != st.Dropped {
		t.Fatalf("%d events and gaps for %d, Stats %+v", events, gaps, st)
	}
	if withMemory {
		for i, e := range mem.Events() {
			want := log[i]
			if e.Seq != want.Seq || e.RequestID != want.RequestID || e.Gap != want.Gap || !e.Time.Equal(want.Time) {
				t.Fatalf("memory holds %+v, the file %+v", e, want)
			}
		}
	}
}

// readLog returns the events of the JSON lines file at path.
func readLog(t *testing.T, path string) []audit.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var log []audit.Event
	for line := range bytes.Lines(data) {
		var e audit.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		log = append(log, e)
	}
	return log
}
