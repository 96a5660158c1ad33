package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/ipbind"
)

// FuzzPeerCache: the cache answers as ipbind.RemoteIP does for every
// RemoteAddr of a sequence (newline separated), whatever it remembered
// from the ones before: repeated strings, strings that share a slot, and
// equal strings that are not the same string in memory.
func FuzzPeerCache(f *testing.F) {
	f.Add("192.0.2.1:1234\n192.0.2.1:1234\n192.0.2.2:1234\n192.0.2.1:1234")
	f.Add("[2001:db8::1]:443\n2001:db8::1\n[::ffff:192.0.2.1]:80\n192.0.2.1")
	f.Add("not an address\n\n192.0.2.1:99999\n192.0.2.1:1\n192.0.2.1:1")
	f.Fuzz(func(t *testing.T, seq string) {
		var c peerCache
		for range 2 {
			for _, a := range strings.Split(seq, "\n") {
				r := &http.Request{RemoteAddr: strings.Clone(a)}
				ip, ok := c.remoteIP(r)
				wantIP, wantOK := ipbind.RemoteIP(r)
				if ip != wantIP || ok != wantOK {
					t.Fatalf("%q: %v, %v; RemoteIP: %v, %v", a, ip, ok, wantIP, wantOK)
				}
			}
		}
	})
}

// TestPeerCacheHits: a RemoteAddr seen before is answered from the cache,
// and a full slot is not replaced on every miss.
func TestPeerCacheHits(t *testing.T) {
	var c peerCache
	c.remoteIP(&http.Request{RemoteAddr: "192.0.2.1:1234"})
	again := &http.Request{RemoteAddr: strings.Clone("192.0.2.1:1234")} // equal, not the same string
	if n := testing.AllocsPerRun(100, func() { c.remoteIP(again) }); n != 0 {
		t.Errorf("a repeated RemoteAddr allocates %v times", n)
	}
	// Misses that all land in one slot: most keep its entry.
	slot := peerSlot("192.0.2.1:1234")
	misses, replaced := 0, 0
	for port := 1; port < 65536 && misses < 1000; port++ {
		a := "198.51.100.7:" + strconv.Itoa(port)
		if peerSlot(a) != slot {
			continue
		}
		misses++
		e := c[slot].Load()
		c.remoteIP(&http.Request{RemoteAddr: a})
		if c[slot].Load() != e {
			replaced++
		}
	}
	if misses < 100 || replaced > misses*3/peerReplace {
		t.Errorf("%d of %d misses replaced the entry", replaced, misses)
	}
}

// TestPeerSlotConsecutivePorts: the connections of one client, on
// consecutive ports, each have a slot of their own, so that a client's
// keep-alive connections (a load balancer's, a load test's) never evict one
// another.
func TestPeerSlotConsecutivePorts(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "10.1.2.3", "[2001:db8::1]"} {
		for _, first := range []int{1, 9990, 32768, 60999, 65536 - peerSlots} {
			seen := map[int]string{}
			for port := first; port < first+peerSlots; port++ {
				a := host + ":" + strconv.Itoa(port)
				s := peerSlot(a)
				if s < 0 || s >= peerSlots {
					t.Fatalf("peerSlot(%q) = %d", a, s)
				}
				if other, ok := seen[s]; ok {
					t.Errorf("%s and %s share slot %d", other, a, s)
				}
				seen[s] = a
			}
		}
	}
}

// TestPeerCacheConcurrent: requests of many peers resolved at once, so
// that slots are filled and replaced under one another, each get their
// own peer's address (run with -race).
func TestPeerCacheConcurrent(t *testing.T) {
	var c peerCache
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				n := (i*7 + g) % 97
				a := "198.51.100." + strconv.Itoa(n) + ":" + strconv.Itoa(40000+n%5)
				r := &http.Request{RemoteAddr: a}
				ip, ok := c.remoteIP(r)
				if want, _ := ipbind.RemoteIP(r); !ok || ip != want {
					t.Errorf("%s: %v, %v", a, ip, ok)
					return
				}
			}
		}()
	}
	wg.Wait()
}
