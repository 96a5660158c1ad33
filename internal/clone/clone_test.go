package clone

import (
	"slices"
	"testing"
)

func TestStrings(t *testing.T) {
	a, b, c, empty := []string{"a1", "a2"}, []string(nil), []string{"c1"}, []string{}
	origA, origC := a, c
	Strings(&a, &b, &c, &empty)
	if !slices.Equal(a, []string{"a1", "a2"}) || b != nil || !slices.Equal(c, []string{"c1"}) || empty == nil || len(empty) != 0 {
		t.Fatalf("got %q %q %q %q", a, b, c, empty)
	}
	a[0] = "changed"
	if origA[0] != "a1" {
		t.Fatal("the copy shares memory with the original")
	}
	a = append(a, "grown")
	if c[0] != "c1" || origC[0] != "c1" {
		t.Fatal("appending to one copy overwrote the next")
	}
	x, y := []string{"x"}, []string{"y"}
	if allocs := testing.AllocsPerRun(100, func() { Strings(&x, &y) }); allocs != 1 {
		t.Fatalf("%v allocations, want 1", allocs)
	}
	var none []string
	if allocs := testing.AllocsPerRun(100, func() { Strings(&none) }); allocs != 0 {
		t.Fatalf("%v allocations for nothing to copy, want 0", allocs)
	}
}
