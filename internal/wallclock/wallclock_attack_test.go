package wallclock

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// checkReading fails unless got, a reading of Now made between the
// time.Now readings before and after, lies between them by the wall
// clock (to a millisecond) and carries a monotonic reading.
func checkReading(t *testing.T, before, got, after time.Time) {
	t.Helper()
	if got.Round(0).Before(before.Round(0).Add(-time.Millisecond)) || got.Round(0).After(after.Round(0).Add(time.Millisecond)) {
		t.Errorf("reading %v, not within [%v, %v]", got, before, after)
	}
	if got.Round(0) == got {
		t.Errorf("reading %v carries no monotonic reading", got)
	}
}

// TestNowConcurrentAcrossRefresh: goroutines reading Now while the anchor
// is replaced (the run spans more than Refresh) each get readings within
// the time.Now readings around them, never going back (run with -race).
func TestNowConcurrentAcrossRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for more than Refresh")
	}
	deadline := time.Now().Add(Refresh + Refresh/4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			last := Now()
			for i := 0; time.Now().Before(deadline); i++ {
				before := time.Now()
				got := Now()
				after := time.Now()
				checkReading(t, before, got, after)
				if got.Before(last) {
					t.Errorf("reading %v before the goroutine's last, %v", got, last)
				}
				last = got
				if t.Failed() {
					return
				}
				if i%1000 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

// TestNowBubbleBesideSystem: a goroutine in a synctest bubble and one
// outside read Now at once, each storing anchors the other cannot use (the
// bubble's carry no monotonic reading and lie in 2000; the system's carry
// one): the bubble's readings are exactly its time.Now, the other's the
// system clock's, with a monotonic reading.
func TestNowBubbleBesideSystem(t *testing.T) {
	done := make(chan struct{})
	outside := make(chan struct{})
	go func() {
		defer close(outside)
		for {
			select {
			case <-done:
				return
			default:
			}
			before := time.Now()
			got := Now()
			checkReading(t, before, got, time.Now())
			if t.Failed() {
				return
			}
		}
	}()
	synctest.Test(t, func(t *testing.T) {
		for i := range 20000 {
			if got, want := Now(), time.Now(); !got.Equal(want) || got.Round(0) != got {
				t.Fatalf("in the bubble: Now %v, time.Now %v", got, want)
			}
			if i%100 == 0 {
				time.Sleep(Refresh / 3) // the bubble's clock moves on
			}
		}
	})
	close(done)
	<-outside
}
