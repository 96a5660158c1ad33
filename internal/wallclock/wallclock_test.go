package wallclock

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestNowFollowsTimeNow: readings of Now lie between the time.Now
// readings around them (to the wall clock's nanosecond, the step-free
// clock of a test), carry a monotonic reading and never go back.
func TestNowFollowsTimeNow(t *testing.T) {
	last := Now()
	for i := range 2000 {
		before := time.Now()
		got := Now()
		after := time.Now()
		// Compared by wall clock: Round(0) drops the monotonic readings.
		if got.Round(0).Before(before.Round(0).Add(-time.Millisecond)) || got.Round(0).After(after.Round(0).Add(time.Millisecond)) {
			t.Fatalf("reading %d: %v, not within [%v, %v]", i, got, before, after)
		}
		if got.Before(last) {
			t.Fatalf("reading %d: %v before the last, %v", i, got, last)
		}
		if got.Round(0) == got {
			t.Fatalf("reading %d carries no monotonic reading", i)
		}
		last = got
		if i%500 == 0 {
			time.Sleep(Refresh / 4)
		}
	}
}

// TestNowReanchors: an anchor younger than Refresh is kept and moved on
// by the monotonic time since it; an older one is replaced by a time.Now
// reading, so that a step of the wall clock shows within Refresh.
func TestNowReanchors(t *testing.T) {
	young := time.Now().Add(-Refresh / 2)
	anchor.Store(&young)
	if got := Now(); anchor.Load() != &young || got.Sub(young) < Refresh/2 || got.Sub(young) > Refresh {
		t.Fatalf("an anchor %v old was not kept: %v", Refresh/2, got.Sub(young))
	}
	old := time.Now().Add(-Refresh)
	anchor.Store(&old)
	got := Now()
	if a := anchor.Load(); a == &old || !a.Equal(got) {
		t.Fatalf("an anchor %v old was kept", Refresh)
	}
	if d := time.Since(got); d < 0 || d > Refresh/2 {
		t.Fatalf("the new anchor is %v old", d)
	}
}

// TestNowInBubble: in a synctest bubble Now is the bubble's time.
func TestNowInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for range 3 {
			if got, want := Now(), time.Now(); !got.Equal(want) {
				t.Fatalf("Now %v, time.Now %v", got, want)
			}
			time.Sleep(10 * time.Minute)
		}
	})
}

func BenchmarkNow(b *testing.B) {
	for b.Loop() {
		Now()
	}
}

func BenchmarkTimeNow(b *testing.B) {
	for b.Loop() {
		time.Now()
	}
}
