// Package ratelimittest is the conformance suite for [ratelimit.Limiter]
// implementations. Every backend runs it:
//
//	func TestLimiter(t *testing.T) {
//		ratelimittest.TestLimiter(t, func(t *testing.T) ratelimit.Limiter { return newMyLimiter(t) })
//	}
//
// The suite uses the real clock with short durations (the longest wait is
// about 300 ms) and keys unique to each run, so a limiter backed by a
// shared store can run it against a live server.
package ratelimittest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/ratelimit"
)

// TestLimiter runs the conformance suite against limiters made by
// newLimiter. If a limiter also implements [ratelimit.Peeker], Peek is
// tested too.
func TestLimiter(t *testing.T, newLimiter func(t *testing.T) ratelimit.Limiter) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, ratelimit.Limiter)
	}{
		{"ExactBurst", testExactBurst},
		{"Refill", testRefill},
		{"IndependentKeys", testIndependentKeys},
		{"Unlimited", testUnlimited},
		{"InvalidPolicy", testInvalidPolicy},
		{"Concurrent", testConcurrent},
		{"ConcurrentRefill", testConcurrentRefill},
		{"DifferentWindows", testDifferentWindows},
		{"CancelledContext", testCancelled},
		{"Peek", testPeek},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newLimiter(t))
		})
	}
}

var run = time.Now().UnixNano()

var seq atomic.Int64

// key returns a key no other test or run uses.
func key(t *testing.T) string {
	return fmt.Sprintf("ratelimittest:%d:%s:%d", run, t.Name(), seq.Add(1))
}

// slack bounds the time a test expects between two adjacent calls.
const slack = 50 * time.Millisecond

func allow(t *testing.T, l ratelimit.Limiter, k string, p ratelimit.Policy) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), k, p)
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", k, p, err)
	}
	return d
}

// within reports an error unless want-slack < got <= want.
func within(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got > want || got <= want-slack {
		t.Errorf("%s = %v, want %v (less at most %v)", what, got, want, slack)
	}
}

// burst makes p.Limit requests that must all be allowed, with Remaining
// counting down, and returns the last decision.
func burst(t *testing.T, l ratelimit.Limiter, k string, p ratelimit.Policy) ratelimit.Decision {
	t.Helper()
	var d ratelimit.Decision
	for i := range p.Limit {
		d = allow(t, l, k, p)
		if !d.Allowed || d.Limit != p.Limit || d.Remaining != p.Limit-1-i || d.RetryAfter != 0 {
			t.Fatalf("request %d of %d: got %+v, want allowed with Remaining %d", i+1, p.Limit, d, p.Limit-1-i)
		}
	}
	return d
}

// refused checks that the next request on k is refused, and returns it.
func refused(t *testing.T, l ratelimit.Limiter, k string, p ratelimit.Policy) ratelimit.Decision {
	t.Helper()
	d := allow(t, l, k, p)
	if d.Allowed || d.Remaining != 0 || d.Limit != p.Limit {
		t.Fatalf("got %+v, want refused with Remaining 0 and Limit %d", d, p.Limit)
	}
	return d
}

func testExactBurst(t *testing.T, l ratelimit.Limiter) {
	p := ratelimit.Policy{Name: "burst", Limit: 5, Window: time.Hour}
	k := key(t)
	first := allow(t, l, k, p)
	if !first.Allowed || first.Remaining != 4 {
		t.Fatalf("first request: %+v", first)
	}
	within(t, "first Reset", first.Reset, 12*time.Minute)
	for range 4 {
		if d := allow(t, l, k, p); !d.Allowed {
			t.Fatalf("request within burst refused: %+v", d)
		}
	}
	for range 3 {
		d := refused(t, l, k, p)
		within(t, "RetryAfter", d.RetryAfter, 12*time.Minute)
		within(t, "Reset", d.Reset, time.Hour)
	}
}

func testRefill(t *testing.T, l ratelimit.Limiter) {
	p := ratelimit.Policy{Name: "refill", Limit: 4, Window: 1200 * time.Millisecond} // one per 300 ms
	k := key(t)
	burst(t, l, k, p)
	d := refused(t, l, k, p)
	within(t, "RetryAfter", d.RetryAfter, 300*time.Millisecond)
	time.Sleep(d.RetryAfter + 10*time.Millisecond)
	if d := allow(t, l, k, p); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after one interval: %+v, want allowed with Remaining 0", d)
	}
	d = refused(t, l, k, p)
	within(t, "RetryAfter after refill", d.RetryAfter, 300*time.Millisecond)
}

func testIndependentKeys(t *testing.T, l ratelimit.Limiter) {
	p := ratelimit.Policy{Name: "keys", Limit: 3, Window: time.Hour}
	a, b := key(t), key(t)
	burst(t, l, a, p)
	refused(t, l, a, p)
	burst(t, l, b, p)
	refused(t, l, b, p)
	refused(t, l, a, p)
}

func testUnlimited(t *testing.T, l ratelimit.Limiter) {
	for _, p := range []ratelimit.Policy{{}, {Name: "test", Limit: 0, Window: time.Second}, {Limit: -1}} {
		k := key(t)
		for range 1000 {
			if d := allow(t, l, k, p); !d.Allowed || d.Limit != 0 {
				t.Fatalf("unlimited policy %+v: got %+v", p, d)
			}
		}
	}
	// An unlimited policy leaves a limited key's state alone.
	p := ratelimit.Policy{Limit: 2, Window: time.Hour}
	k := key(t)
	allow(t, l, k, ratelimit.Policy{})
	burst(t, l, k, p)
	refused(t, l, k, p)
}

func testInvalidPolicy(t *testing.T, l ratelimit.Limiter) {
	for _, p := range []ratelimit.Policy{{Limit: 1}, {Limit: 1, Window: -time.Second}, {Limit: 10, Window: 9}} {
		d, err := l.Allow(context.Background(), key(t), p)
		if !errors.Is(err, ratelimit.ErrInvalidPolicy) || d.Allowed {
			t.Errorf("policy %+v: got %+v, %v; want an error wrapping ErrInvalidPolicy", p, d, err)
		}
	}
}

// hammer runs workers goroutines making perWorker requests each on k, and
// returns how many were allowed.
func hammer(t *testing.T, l ratelimit.Limiter, k string, p ratelimit.Policy, workers, perWorker int) int {
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			for range perWorker {
				d, err := l.Allow(context.Background(), k, p)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}

func testConcurrent(t *testing.T, l ratelimit.Limiter) {
	p := ratelimit.Policy{Name: "concurrent", Limit: 50, Window: time.Hour}
	k := key(t)
	if got := hammer(t, l, k, p, 32, 10); got != p.Limit {
		t.Fatalf("%d of 320 concurrent requests allowed, want exactly %d", got, p.Limit)
	}
	refused(t, l, k, p)
}

// testConcurrentRefill checks that after a burst and one interval, exactly
// one more of many concurrent requests passes.
func testConcurrentRefill(t *testing.T, l ratelimit.Limiter) {
	p := ratelimit.Policy{Name: "concurrent-refill", Limit: 20, Window: 20 * time.Second} // one per second
	k := key(t)
	if got := hammer(t, l, k, p, 16, 4); got != p.Limit {
		t.Fatalf("first round: %d allowed, want %d", got, p.Limit)
	}
	d := refused(t, l, k, p)
	time.Sleep(d.RetryAfter + 10*time.Millisecond) // < 2 intervals
	if got := hammer(t, l, k, p, 16, 4); got != 1 {
		t.Fatalf("after one interval: %d allowed, want 1", got)
	}
}

func testDifferentWindows(t *testing.T, l ratelimit.Limiter) {
	hour := ratelimit.Policy{Name: "hourly", Limit: 2, Window: time.Hour}
	day := ratelimit.Policy{Name: "daily", Limit: 3, Window: 24 * time.Hour}
	short := ratelimit.Policy{Name: "short", Limit: 1, Window: 200 * time.Millisecond}
	kh, kd, ks := key(t), key(t), key(t)

	burst(t, l, kh, hour)
	burst(t, l, kd, day)
	burst(t, l, ks, short)
	d := refused(t, l, kh, hour)
	within(t, "hourly RetryAfter", d.RetryAfter, 30*time.Minute)
	within(t, "hourly Reset", d.Reset, time.Hour)
	d = refused(t, l, kd, day)
	within(t, "daily RetryAfter", d.RetryAfter, 8*time.Hour)
	within(t, "daily Reset", d.Reset, 24*time.Hour)
	d = refused(t, l, ks, short)
	within(t, "short RetryAfter", d.RetryAfter, 200*time.Millisecond)

	time.Sleep(d.RetryAfter + 10*time.Millisecond)
	if d := allow(t, l, ks, short); !d.Allowed {
		t.Fatalf("short window did not refill: %+v", d)
	}
	refused(t, l, kh, hour)
	refused(t, l, kd, day)
}

func testCancelled(t *testing.T, l ratelimit.Limiter) {
	p := ratelimit.Policy{Name: "cancel", Limit: 3, Window: time.Hour}
	k := key(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		d, err := l.Allow(ctx, k, p)
		if !errors.Is(err, context.Canceled) || d.Allowed {
			t.Fatalf("cancelled context: got %+v, %v; want context.Canceled", d, err)
		}
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := l.Allow(expired, k, p); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: got %v, want context.DeadlineExceeded", err)
	}
	burst(t, l, k, p) // nothing was consumed
	refused(t, l, k, p)
}

func testPeek(t *testing.T, l ratelimit.Limiter) {
	pk, ok := l.(ratelimit.Peeker)
	if !ok {
		t.Skip("limiter does not implement ratelimit.Peeker")
	}
	ctx := context.Background()
	p := ratelimit.Policy{Name: "peek", Limit: 3, Window: time.Hour}
	k := key(t)
	look := func() ratelimit.Decision {
		t.Helper()
		d, err := pk.Peek(ctx, k, p)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		return d
	}
	for range 10 {
		if d := look(); !d.Allowed || d.Remaining != 3 || d.Reset != 0 {
			t.Fatalf("Peek on a fresh key: %+v, want allowed, Remaining 3, Reset 0", d)
		}
	}
	allow(t, l, k, p)
	d := look()
	if !d.Allowed || d.Remaining != 2 {
		t.Fatalf("Peek after one request: %+v, want allowed, Remaining 2", d)
	}
	within(t, "Reset", d.Reset, 20*time.Minute)
	allow(t, l, k, p)
	allow(t, l, k, p)
	d = look()
	if d.Allowed || d.Remaining != 0 {
		t.Fatalf("Peek after the burst: %+v, want refused", d)
	}
	within(t, "RetryAfter", d.RetryAfter, 20*time.Minute)
	within(t, "Reset", d.Reset, time.Hour)
	refused(t, l, k, p)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pk.Peek(cctx, key(t), p); !errors.Is(err, context.Canceled) {
		t.Fatalf("Peek with a cancelled context: %v", err)
	}
}
