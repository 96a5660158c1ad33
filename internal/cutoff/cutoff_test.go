package cutoff

import (
	"testing"
	"time"
)

func TestApplies(t *testing.T) {
	cut := time.Date(2026, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	for _, tc := range []struct {
		name      string
		notBefore time.Time
		issued    time.Time
		want      bool
	}{
		{"no cut-off", time.Time{}, cut, false},
		{"no cut-off, zero issue time", time.Time{}, time.Time{}, false},
		{"issued before", cut, cut.Add(-time.Second), true},
		{"issued in the same second, earlier", cut, cut.Add(-400 * time.Millisecond), true},
		{"issued in the same second, later", cut, cut.Add(499 * time.Millisecond), true},
		{"issued the next second", cut, cut.Add(500 * time.Millisecond), false},
		{"issued later", cut, cut.Add(time.Hour), false},
		{"zero issue time", cut, time.Time{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Applies(tc.notBefore, tc.issued); got != tc.want {
				t.Errorf("Applies(%v, %v) = %v, want %v", tc.notBefore, tc.issued, got, tc.want)
			}
		})
	}
}
