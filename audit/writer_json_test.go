package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

func randString(r *rand.Rand) string {
	pieces := []string{"", "a", "abcdefgh", "\"", "\\", "\n", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "é", "\xff", "\xe2\x80", "<>&", "\ufffd", "日本", "\U0001F600", "12345678901234567"}
	var b []byte
	for range r.IntN(6) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return string(b)
}

// sampleLocs are shared locations (a MemorySink names them by identity);
// randEvent also makes a new one for some events.
var sampleLocs = func() []*time.Location {
	locs := []*time.Location{time.UTC, time.Local, time.FixedZone("", 0), time.FixedZone("X\"Y", -12345), time.FixedZone("P", 14*3600)}
	if l, err := time.LoadLocation("America/New_York"); err == nil {
		locs = append(locs, l)
	}
	return locs
}()

func randEvent(r *rand.Rand) audit.Event {
	loc := sampleLocs[r.IntN(len(sampleLocs))]
	if r.IntN(50) == 0 {
		loc = time.FixedZone(fmt.Sprint("N", r.IntN(100)), r.IntN(50000)-25000) // a location of its own
	}
	t := time.Unix(r.Int64N(253402300799)-62135596800/2, r.Int64N(1e9)).In(loc)
	if r.IntN(4) == 0 {
		t = time.Now()
	}
	lat := []float64{0, math.Copysign(0, -1), 1e21, 1e-7, 123.456, math.MaxFloat64, math.SmallestNonzeroFloat64, -1e20, 0.000001}[r.IntN(9)]
	e := audit.Event{Time: t, RequestID: randString(r), IP: randString(r), Country: randString(r), Method: randString(r),
		Path: randString(r), Route: randString(r), Status: r.IntN(3) * r.Int(), LatencyMS: lat, Bytes: r.Int64() - r.Int64(),
		UserAgent: randString(r), AuthMethod: randString(r), KeyID: randString(r), TokenID: randString(r), Subject: randString(r),
		Account: randString(r), Mode: randString(r), Store: randString(r), Decision: audit.Decision(randString(r)),
		Reason: randString(r), Action: randString(r), Actor: randString(r)}
	switch r.IntN(3) {
	case 0:
		e.Headers = map[string]string{}
	case 1:
		e.Headers = map[string]string{randString(r): randString(r), randString(r): randString(r), "Accept": randString(r)}
	}
	return e
}

// TestWriterFileMatchesEncodingJSON writes random events through a
// Writer to FileSinks (alone: JSON lines; beside a MemorySink: memory
// forms) and checks each line against encoding/json's.
func TestWriterFileMatchesEncodingJSON(t *testing.T) {
	for _, withMemory := range []bool{false, true} {
		t.Run(fmt.Sprint("memory=", withMemory), func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, uint64(len(t.Name()))))
			path := filepath.Join(t.TempDir(), "a.jsonl")
			f, err := audit.OpenFile(audit.FileConfig{Path: path, Sync: audit.SyncNever})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sinks := []audit.Sink{f}
			mem, direct := audit.NewMemorySink(100), audit.NewMemorySink(100)
			if withMemory {
				sinks = append(sinks, mem)
			}
			w := audit.NewWriter(audit.WriterConfig{Sinks: sinks, BatchSize: 13, QueueSize: 50})
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			const n = 5000
			for i := range n {
				e := randEvent(r)
				if err := w.Emit(ctx, e, audit.Block); err != nil {
					t.Fatal(err)
				}
				if err := direct.Write(ctx, []audit.Event{e}); err != nil {
					t.Fatal(err)
				}
				e.Seq = uint64(i + 1)
				e.Time = e.Time.UTC()
				if err := enc.Encode(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if withMemory {
				// The MemorySink behind the Writer holds what one written
				// directly holds: nil and empty Headers, locations.
				g, d := mem.Events(), direct.Events()
				for i := range d {
					gz, go_ := g[i].Time.Zone()
					dz, do := d[i].Time.Zone()
					if !g[i].Time.Equal(d[i].Time) || gz != dz || go_ != do || g[i].Time.Location().String() != d[i].Time.Location().String() ||
						slices.Contains(sampleLocs, d[i].Time.Location()) != (g[i].Time.Location() == d[i].Time.Location()) {
						t.Fatalf("event %d: time %v via the Writer, %v direct", i, g[i].Time, d[i].Time)
					}
					g[i].Time, d[i].Time = time.Time{}, time.Time{}
					if !reflect.DeepEqual(g[i], d[i]) {
						t.Fatalf("event %d:\n%#v via the Writer\n%#v direct", i, g[i], d[i])
					}
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want.Bytes(), []byte("\n"))
			if len(gl) != len(wl) {
				t.Fatalf("%d lines, want %d", len(gl), len(wl))
			}
			for i := range gl {
				if !bytes.Equal(gl[i], wl[i]) {
					t.Fatalf("line %d:\n got %s\nwant %s", i, gl[i], wl[i])
				}
			}
		})
	}
}
