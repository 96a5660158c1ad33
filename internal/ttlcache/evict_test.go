package ttlcache_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/ttlcache"
)

// A full cache under churn keeps the entries it was given last: the victim
// is arbitrary, not always the same region of the map.
func TestEvictionDoesNotStarveNewEntries(t *testing.T) {
	const max = 100
	c := ttlcache.New[int](time.Hour, max, nil)
	for i := 0; i < 20000; i++ {
		c.Put("k"+strconv.Itoa(i), i, c.Begin())
	}
	kept := 0
	for i := 20000 - 50; i < 20000; i++ {
		if _, ok := c.Get("k" + strconv.Itoa(i)); ok {
			kept++
		}
	}
	t.Logf("of the last 50 keys put, %d are cached", kept)
	if kept < 20 {
		t.Fatalf("of the last 50 keys put into a full cache of %d, only %d are cached", max, kept)
	}
}
