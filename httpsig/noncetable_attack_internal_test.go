package httpsig

import (
	"math/rand/v2"
	"testing"
)

// checkNonceTable checks a nonceTable's invariants: its count is its
// number of full slots, at most half of them, and every entry is reached
// from its home slot without crossing an empty one (so find sees it).
func checkNonceTable(t *testing.T, tab *nonceTable) {
	t.Helper()
	if len(tab.slots) == 0 {
		if tab.n != 0 {
			t.Fatalf("%d entries and no slots", tab.n)
		}
		return
	}
	mask := len(tab.slots) - 1
	full := 0
	for i, s := range tab.slots {
		if s == (nonceKey{}) {
			continue
		}
		full++
		for j := int(s[1]) & mask; j != i; j = (j + 1) & mask {
			if tab.slots[j] == (nonceKey{}) {
				t.Fatalf("entry %v in slot %d: empty slot %d between it and its home %d", s, i, j, int(s[1])&mask)
			}
		}
	}
	if full != tab.n || 2*tab.n > len(tab.slots) {
		t.Fatalf("%d full slots, n = %d, %d slots", full, tab.n, len(tab.slots))
	}
}

// TestAttackNonceTableWrapAtEverySize runs random inserts and deletes on
// a nonceTable whose keys all have their home in the last slots of the
// table whatever its size (second words with all low bits set but a few),
// so that every run wraps around the end at every size the table grows
// to, and checks it against a map and its invariants after every step.
// FuzzNonceTable's keys have their homes in the first slots once the
// table is larger than 8, so it exercises wrap-around at size 8 only.
func TestAttackNonceTableWrapAtEverySize(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var tab nonceTable
		model := map[nonceKey]bool{}
		keys := make([]nonceKey, 0, 300)
		for i := range 300 {
			// Home: one of the last 8 slots, whatever the table's size;
			// some keys share a second word (told apart by the first).
			k1 := ^uint64(rng.IntN(8)) &^ (uint64(rng.IntN(4)) << 40)
			keys = append(keys, nonceKeyOf(uint64(i%3), k1))
		}
		for step := range 1500 {
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(3) > 0 { // insert when absent, or look up
				if len(tab.slots) == 0 {
					tab.slots = make([]nonceKey, nonceTableSize(0))
				}
				i, found := tab.find(k)
				if found != model[k] {
					t.Fatalf("seed %d step %d: find %v = %v, model %v", seed, step, k, found, model[k])
				}
				if !found {
					tab.insertAt(i, k)
					model[k] = true
				}
			} else if model[k] {
				tab.delete(k)
				delete(model, k)
			}
			checkNonceTable(t, &tab)
			if tab.n != len(model) {
				t.Fatalf("seed %d step %d: %d entries, model %d", seed, step, tab.n, len(model))
			}
			for mk := range model {
				if !tab.has(mk) {
					t.Fatalf("seed %d step %d: %v lost", seed, step, mk)
				}
			}
			// Now and then the shard's rebuild at the smaller size.
			if step%500 == 499 && len(tab.slots) > 0 {
				tab.resize(nonceTableSize(2 * tab.n))
				checkNonceTable(t, &tab)
			}
		}
	}
}
