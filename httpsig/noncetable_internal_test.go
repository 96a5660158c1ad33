package httpsig

import (
	"testing"
	"unsafe"
)

// TestNonceShardSize: a shard fills two cache lines exactly, so that two
// shards never share one (on a 64-bit platform, which its padding is
// for).
func TestNonceShardSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the padding is sized for 64-bit platforms")
	}
	if n := unsafe.Sizeof(nonceShard{}); n != 128 {
		t.Fatalf("nonceShard is %d bytes, want 128", n)
	}
}

// FuzzNonceTable runs a sequence of inserts, deletes and lookups on a
// nonceTable and on a Go map side by side: every lookup agrees, and the
// table's count is the map's length. Keys are drawn from few values with
// few distinct low bits, so that runs, wrap-around at the table's end and
// the backward shift of deletion are exercised.
func FuzzNonceTable(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 0x81, 0x82, 0x40, 0x41, 0xc1})
	f.Add([]byte{7, 15, 23, 31, 39, 0x87, 0x8f, 0x97, 7, 15, 0x40})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var tab nonceTable
		model := map[nonceKey]bool{}
		for step, op := range ops {
			// Low 6 bits: the key (its second word's low bits vary
			// within a small table; its first word tells keys with the
			// same second word apart); high 2 bits: the operation.
			v := uint64(op & 0x3f)
			k := nonceKeyOf(v>>3, v*0x9e3779b97f4a7c15>>61|v<<8&0x700)
			switch op >> 6 {
			case 0, 1: // insert when absent
				if len(tab.slots) == 0 {
					tab.slots = make([]nonceKey, nonceTableSize(0))
				}
				i, found := tab.find(k)
				_, inModel := model[k]
				if found != inModel {
					t.Fatalf("step %d: find %v = %v, model %v", step, k, found, inModel)
				}
				if !found {
					tab.insertAt(i, k)
					model[k] = true
				}
			case 2: // delete when present
				if _, ok := model[k]; ok {
					tab.delete(k)
					delete(model, k)
				}
			case 3: // look up
			}
			if tab.n != len(model) {
				t.Fatalf("step %d: %d entries, model %d", step, tab.n, len(model))
			}
			if len(tab.slots) > 0 && 2*tab.n > len(tab.slots) {
				t.Fatalf("step %d: %d entries in %d slots", step, tab.n, len(tab.slots))
			}
			for mk := range model {
				if !tab.has(mk) {
					t.Fatalf("step %d: %v lost", step, mk)
				}
			}
			if tab.has(k) != model[k] {
				t.Fatalf("step %d: has %v = %v", step, k, !model[k])
			}
		}
		// Shrinking keeps every entry.
		if len(tab.slots) > 0 {
			tab.resize(nonceTableSize(tab.n))
			for mk := range model {
				if !tab.has(mk) {
					t.Fatalf("after resize: %v lost", mk)
				}
			}
		}
	})
}

// TestNonceKeyOfZero: the zero pair, which marks an empty slot, is taken
// as another key, which the table holds like any other.
func TestNonceKeyOfZero(t *testing.T) {
	k := nonceKeyOf(0, 0)
	if k == (nonceKey{}) {
		t.Fatal("nonceKeyOf(0, 0) is the empty slot's key")
	}
	tab := nonceTable{slots: make([]nonceKey, 8)}
	i, found := tab.find(k)
	if found {
		t.Fatal("found in an empty table")
	}
	tab.insertAt(i, k)
	if !tab.has(nonceKeyOf(0, 0)) {
		t.Fatal("the zero pair's key is not found")
	}
	if tab.has(nonceKeyOf(0, 2)) {
		t.Fatal("a key not inserted is found")
	}
}

// has reports (for the tests) whether k is in the table.
func (t *nonceTable) has(k nonceKey) bool {
	if t.n == 0 {
		return false
	}
	_, ok := t.find(k)
	return ok
}
