// Package clone copies records' string slices so that callers share no
// memory with a store, in one allocation however many slices there are.
package clone

// Strings replaces each slice that ps point to with a copy. All copies
// share one new backing array, each capped so that appending to one cannot
// overwrite the next. Nil stays nil; when every slice is empty nothing is
// allocated.
func Strings(ps ...*[]string) {
	n := 0
	for _, p := range ps {
		n += len(*p)
	}
	if n == 0 {
		return
	}
	buf := make([]string, 0, n)
	for _, p := range ps {
		if *p == nil {
			continue
		}
		start := len(buf)
		buf = append(buf, *p...)
		*p = buf[start:len(buf):len(buf)]
	}
}
