//go:build unix

package cputime_test

import (
	"testing"

	"github.com/keygate/keygate/internal/cputime"
)

// TestProcessGrows checks that the process's CPU time is read and grows
// with work done.
func TestProcessGrows(t *testing.T) {
	before, ok := cputime.Process()
	if !ok {
		t.Fatal("not read")
	}
	var after = before
	x := uint64(1)
	for after == before { // getrusage's resolution is coarse: work until it moves
		for range 1 << 20 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		after, ok = cputime.Process()
		if !ok {
			t.Fatal("not read")
		}
	}
	if after < before {
		t.Fatalf("CPU time went back: %v then %v", before, after)
	}
	_ = x
}
