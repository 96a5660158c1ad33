package middleware

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// TestNewRequestID checks that request IDs, handed out from shared chunks
// by concurrent requests, are distinct and have rand.Text's shape.
func TestNewRequestID(t *testing.T) {
	const goroutines, each = 8, 5 * requestIDChunk
	ids := make([][]string, goroutines)
	var wg sync.WaitGroup
	for g := range ids {
		wg.Go(func() {
			for range each {
				ids[g] = append(ids[g], newRequestID())
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if len(id) != 26 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
				t.Fatalf("request ID %q: want 26 characters of base32", id)
			}
			if seen[id] {
				t.Fatalf("request ID %q handed out twice", id)
			}
			seen[id] = true
		}
	}
}

// TestRequestIDBits checks that the characters of request IDs are
// independent and uniform: every character equally likely at every
// position, and any two positions of an ID equal as often as chance has
// them (a character made from bits another one uses would be equal to
// it, or tied to it, far more often).
func TestRequestIDBits(t *testing.T) {
	const n = 256 * requestIDChunk
	var ids []string
	for range n {
		ids = append(ids, newRequestID())
	}
	var counts [requestIDLen][32]int
	var equal [requestIDLen][requestIDLen]int
	for _, id := range ids {
		for p := range requestIDLen {
			counts[p][strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", id[p])]++
			for q := p + 1; q < requestIDLen; q++ {
				if id[p] == id[q] {
					equal[p][q]++
				}
			}
		}
	}
	for p := range requestIDLen {
		for c, k := range counts[p] { // n/32 = 256 expected, give or take 16
			if k < 150 || k > 362 {
				t.Errorf("position %d: character %d %d times in %d IDs", p, c, k, n)
			}
		}
		for q := p + 1; q < requestIDLen; q++ {
			if k := equal[p][q]; k > 362 { // n/32 = 256 expected, give or take 16
				t.Errorf("positions %d and %d equal in %d of %d IDs", p, q, k, n)
			}
		}
	}
}

// TestIPNameCache checks that the cache returns each address's String,
// also for addresses that share a slot and for zones.
func TestIPNameCache(t *testing.T) {
	var c ipNameCache
	var addrs []netip.Addr
	for i := range 300 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	addrs = append(addrs, netip.MustParseAddr("::1"), netip.MustParseAddr("fe80::1%eth0"),
		netip.MustParseAddr("fe80::1%eth1"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("::ffff:10.0.0.1"))
	for range 3 {
		for _, ip := range addrs {
			if got := c.String(ip); got != ip.String() {
				t.Fatalf("String(%v) = %q", ip, got)
			}
		}
	}
}

// BenchmarkNewRequestID is one request ID, of a chunk's share.
func BenchmarkNewRequestID(b *testing.B) {
	for b.Loop() {
		_ = newRequestID()
	}
}

// BenchmarkIPNameCache is a client address seen before, formatted.
func BenchmarkIPNameCache(b *testing.B) {
	var c ipNameCache
	ip := netip.MustParseAddr("192.0.2.1")
	for b.Loop() {
		_ = c.String(ip)
	}
}
