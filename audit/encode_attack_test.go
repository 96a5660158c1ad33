package audit

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

// TestAttackLastSecondShared encodes events from several goroutines at
// once, each with times that alternate between seconds (so that each
// evicts the others' lastSecond), across second, day, year and era
// boundaries, in UTC and in other zones with the same instant, and
// compares every line with encoding/json: the shared cache must never
// hand one goroutine another's second.
func TestAttackLastSecondShared(t *testing.T) {
	bases := []time.Time{
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 999999999, time.UTC), // refused
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // refused
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC),
		time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC), // a leap second's eve
		time.Date(2024, 2, 29, 12, 0, 0, 1, time.UTC),
		time.Unix(1<<40, 0).UTC(), // past 9999: refused
		time.Unix(-1<<40, 0).UTC(),
		time.Now().UTC(),
		time.Now(), // monotonic reading, Local
	}
	zones := []*time.Location{time.UTC, time.FixedZone("UTC", 0), time.FixedZone("E", 14*3600), time.FixedZone("W", -12*3600-1800), time.Local}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				base := bases[(i+g)%len(bases)]
				at := base.Add(time.Duration(i%3-1) * time.Second).In(zones[(i/len(bases)+g)%len(zones)])
				if i%7 == 0 {
					at = at.Round(0) // without the monotonic reading
				}
				e := Event{Time: at, RequestID: fmt.Sprint(g, i), LatencyMS: float64(i) / 1000}
				want, err := encodingJSON(&e)
				got, ok := appendJSON(nil, &e, 0)
				if err != nil {
					if ok {
						errs <- fmt.Sprintf("encoding/json refuses %v (%v), appendJSON wrote %s", at, err, got)
						return
					}
					continue
				}
				if !ok || string(got) != string(want) {
					errs <- fmt.Sprintf("time %v: appendJSON %q (%v), encoding/json %q", at, got, ok, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestAttackAppendFloatEdges checks latencies at the edges of appendMilli's
// fast path (and outside it) against encoding/json.
func TestAttackAppendFloatEdges(t *testing.T) {
	vals := []float64{
		0.001, -0.001, 0.0005, -0.0005, 0.0004999, 0.00049999999999999, 0.0015, 0.0025, 1e-7, -1e-7, 5e-324, -5e-324,
		math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, 1e21, 1e20, 999999999999999999999.0,
		0.1 + 0.2, 1.0 / 3, 2.0 / 3, 999999999.999, 999999999.9995, 1e9, 1e9 - 0.001, 1e9 + 0.001, -999999999.999,
		1e12, 1e12 / 1000, 4503599627370496, 9007199254740993, 123456789.0125, 0.999, 0.9995, 1.0005, 100.1, 1.01, 1.10,
		math.Nextafter(0.001, 1), math.Nextafter(0.001, 0), math.Nextafter(1.5, 2), math.Nextafter(999999999.999, 0),
		math.Copysign(0, -1), 0,
	}
	for m := int64(-2000); m <= 2000; m++ {
		vals = append(vals, float64(m)/1000)
	}
	for _, big := range []int64{999999999999, 999999999998, 500000000001, 123456789012} {
		vals = append(vals, float64(big)/1000, float64(-big)/1000, math.Nextafter(float64(big)/1000, 0))
	}
	for _, v := range vals {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, v); string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %s, encoding/json %s", v, got, want)
		}
	}
}
