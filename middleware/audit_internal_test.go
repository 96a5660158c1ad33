package middleware

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"unsafe"
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
				ids[g] = append(ids[g], newRequestID()[0])
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
		ids = append(ids, newRequestID()[0])
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

// TestAuditedRequestSize checks that Audit's per-request allocation
// stays in the 512-byte size class, the largest whose objects carry no
// malloc header.
func TestAuditedRequestSize(t *testing.T) {
	if n := unsafe.Sizeof(auditedRequest{}); n > 512 {
		t.Errorf("auditedRequest is %d bytes, want at most 512", n)
	}
}

// TestRequestIDHeaderSlots checks that the header value slices of
// request IDs are each their request's alone: setting one (to a trusted
// incoming ID) or appending to it changes no other ID.
func TestRequestIDHeaderSlots(t *testing.T) {
	var headers [][]string
	for range 3 * requestIDChunk {
		headers = append(headers, newRequestID())
	}
	want := make([]string, len(headers))
	for i, h := range headers {
		if len(h) != 1 || cap(h) != 1 {
			t.Fatalf("header %d: len %d cap %d, want 1 and 1", i, len(h), cap(h))
		}
		want[i] = h[0]
	}
	for i := 0; i < len(headers); i += 2 {
		headers[i][0] = "trusted"
		want[i] = "trusted"
		_ = append(headers[i], "appended")
	}
	for i, h := range headers {
		if h[0] != want[i] {
			t.Fatalf("header %d is %q, want %q", i, h[0], want[i])
		}
	}
}

// TestStatusRecorder checks the status the recorder records against a
// model with a flag for the written header, for every sequence of up to
// three calls of WriteHeader (of two codes), Write, WriteString, Flush
// and ReadFrom.
func TestStatusRecorder(t *testing.T) {
	type call struct {
		name string
		do   func(*statusRecorder)
		code int // WriteHeader's, else 0
	}
	calls := []call{
		{"WriteHeader(404)", func(s *statusRecorder) { s.WriteHeader(404) }, 404},
		{"WriteHeader(103)", func(s *statusRecorder) { s.WriteHeader(103) }, 103},
		{"Write", func(s *statusRecorder) { s.Write([]byte("x")) }, 0},
		{"WriteString", func(s *statusRecorder) { s.WriteString("x") }, 0},
		{"Flush", func(s *statusRecorder) { s.Flush() }, 0},
		{"ReadFrom", func(s *statusRecorder) { s.ReadFrom(strings.NewReader("x")) }, 0},
	}
	var run func(seq []call)
	run = func(seq []call) {
		s := &statusRecorder{ResponseWriter: httptest.NewRecorder(), status: unwritten}
		status, written := http.StatusOK, false // the model
		var names []string
		for _, c := range seq {
			c.do(s)
			if !written && (c.code < 100 || c.code > 199) { // a 1xx is sent ahead of the header
				if c.code != 0 {
					status = c.code
				}
				written = true
			}
			names = append(names, c.name)
		}
		if got := s.code(); got != status {
			t.Errorf("%v: status %d, want %d", names, got, status)
		}
		if len(seq) < 3 {
			for _, c := range calls {
				run(append(seq[:len(seq):len(seq)], c))
			}
		}
	}
	run(nil)
}

// stringOnlyWriter is a ResponseWriter whose Write fails, so that a
// string that reaches it must have come through WriteString.
type stringOnlyWriter struct {
	*httptest.ResponseRecorder
}

func (stringOnlyWriter) Write([]byte) (int, error) { return 0, errors.New("Write, not WriteString") }

// TestStatusRecorderWriteString: io.WriteString through the recorder
// reaches the underlying writer's WriteString (net/http's writes the
// string without a []byte copy) and counts the bytes as Write does.
func TestStatusRecorderWriteString(t *testing.T) {
	under := stringOnlyWriter{httptest.NewRecorder()}
	s := &statusRecorder{ResponseWriter: under, status: unwritten}
	n, err := io.WriteString(s, "hello")
	if err != nil || n != 5 {
		t.Fatalf("WriteString: %d, %v", n, err)
	}
	if s.bytes != 5 || s.code() != http.StatusOK || under.Body.String() != "hello" {
		t.Fatalf("bytes %d, status %d, body %q", s.bytes, s.code(), under.Body.String())
	}
}
