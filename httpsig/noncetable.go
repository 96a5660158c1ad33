package httpsig

// nonceTable is a shard's set of entries: an open-addressing hash table
// with linear probing of the entries' 128-bit keyed hashes, whose second
// word, random already, is the index (the first chose the shard). Their
// expiries are in the shard's queue and heap, which the sweep reads. It
// replaces a Go map of the same entries: a Claim finds a nonce, or the
// slot a new one goes to, in one probe and without hashing the key again,
// in 16 bytes a slot without a pointer. Its room is a power of two, at
// most half used; deletion shifts the entries after the deleted one back
// (no tombstones), so a probe always stops at the first empty slot.
type nonceTable struct {
	slots []nonceKey // len a power of two, or 0; the zero key is an empty slot
	n     int        // slots used
}

// nonceKeyOf returns the key of an entry whose two hashes are k0 and k1:
// {k0, k1}, but for the zero pair, which marks an empty slot of a
// nonceTable and is taken as {0, 1} (a pair hashed to either is then one entry: a collision as
// likely as any other, 2⁻¹²⁸, which could only refuse a new nonce).
func nonceKeyOf(k0, k1 uint64) nonceKey {
	if k0|k1 == 0 {
		k1 = 1
	}
	return nonceKey{k0, k1}
}

// find returns the index of k's slot and true, or, when k is not in the
// table, the index of the empty slot where it would go and false. The
// table must have room (len(t.slots) > 0).
func (t *nonceTable) find(k nonceKey) (int, bool) {
	mask := len(t.slots) - 1
	for i := int(k[1]) & mask; ; i = (i + 1) & mask {
		switch t.slots[i] {
		case k:
			return i, true
		case nonceKey{}:
			return i, false
		}
	}
}

// insertAt puts k, which is not in the table, in slot i, the one find
// returned for it, growing the table when it is then over half used.
func (t *nonceTable) insertAt(i int, k nonceKey) {
	t.slots[i] = k
	t.n++
	if 2*t.n > len(t.slots) {
		t.resize(2 * len(t.slots))
	}
}

// delete removes k, which must be in the table, shifting back the entries
// of its run that would no longer be found past the emptied slot.
func (t *nonceTable) delete(k nonceKey) {
	if t.n == 0 {
		return
	}
	i, ok := t.find(k)
	if !ok {
		return
	}
	mask := len(t.slots) - 1
	for {
		t.slots[i] = nonceKey{}
		j := i
		for {
			j = (j + 1) & mask
			s := t.slots[j]
			if s == (nonceKey{}) {
				t.n--
				return
			}
			// s stays where it is when its home slot lies cyclically in
			// (i, j]: it is found from there without passing i.
			home := int(s[1]) & mask
			if i <= j {
				if i < home && home <= j {
					continue
				}
			} else if i < home || home <= j {
				continue
			}
			t.slots[i] = s
			i = j
			break
		}
	}
}

// resize moves the entries into a table of size slots, a power of two at
// least twice the entries.
func (t *nonceTable) resize(size int) {
	old := t.slots
	t.slots = make([]nonceKey, size)
	mask := size - 1
	for _, s := range old {
		if s == (nonceKey{}) {
			continue
		}
		i := int(s[1]) & mask
		for t.slots[i] != (nonceKey{}) {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// nonceTableSize returns the room of a table for n entries: the least
// power of two, at least 8, that they fill at most half of.
func nonceTableSize(n int) int {
	size := 8
	for size < 2*n {
		size *= 2
	}
	return size
}
