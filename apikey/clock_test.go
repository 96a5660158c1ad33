package apikey

import (
	"testing"
	"time"
)

func TestWallClockFollowsTimeNow(t *testing.T) {
	var c wallClock
	prev := c.Now()
	for i := 0; i < 1000; i++ {
		before := time.Now()
		got := c.Now()
		after := time.Now()
		if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
			t.Fatalf("wallClock %v outside [%v, %v]", got, before, after)
		}
		if got.Before(prev) {
			t.Fatalf("wallClock went backwards: %v after %v", got, prev)
		}
		prev = got
	}
	// An anchor older than a second is replaced.
	old := time.Now().Add(-2 * time.Second)
	c.anchor.Store(&old)
	if got := c.Now(); time.Since(got) > time.Second {
		t.Fatalf("stale anchor kept: %v", got)
	}
}
