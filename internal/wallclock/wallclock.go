// Package wallclock reads the wall clock, as time.Now does, at the cost
// of one reading of the monotonic clock instead of time.Now's two (the
// wall clock and the monotonic clock): on the request path of signed
// requests a clock reading costs as much as parsing a signature field.
//
// A reading is the last anchor, a time.Now reading made less than
// [Refresh] before, plus the monotonic time elapsed since it. The
// monotonic clock runs at the wall clock's rate (both follow NTP's
// frequency corrections), so the two readings agree but for a step of the
// wall clock (set by hand, or by NTP when far off), which [Now] sees
// within [Refresh]: until the next anchor, its readings are those of the
// wall clock before the step, moved on by the time elapsed.
//
// Inside a synctest bubble time.Now carries no monotonic reading, and Now
// is time.Now.
package wallclock

import (
	"sync/atomic"
	"time"
)

// Refresh is the longest time a reading of [Now] goes without a reading
// of the wall clock.
const Refresh = time.Second

// anchor is the last time.Now reading Now made.
var anchor atomic.Pointer[time.Time]

// Now returns the current time, with a monotonic clock reading (but in a
// synctest bubble): time.Now, but that a step of the wall clock shows
// within Refresh (see the package doc). It is safe for concurrent use.
func Now() time.Time {
	if a := anchor.Load(); a != nil {
		// On an anchor without a monotonic reading, time.Since reads
		// time.Now: a.Add(d) is that reading.
		if d := time.Since(*a); 0 <= d && d < Refresh {
			return a.Add(d)
		}
	}
	t := time.Now()
	anchor.Store(&t)
	return t
}
