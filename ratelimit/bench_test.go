package ratelimit_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate/ratelimit"
)

// BenchmarkAllow measures Allow on a key already held, among 10,000 others.
func BenchmarkAllow(b *testing.B) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	p := ratelimit.Policy{Name: "live", Limit: 1 << 30, Window: 1000 * time.Hour}
	for i := range 10_000 {
		_, _ = l.Allow(ctx, fmt.Sprint("acct_", i), p)
	}
	key := "acct_5000"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Allow(ctx, key, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllowParallel measures Allow from all Ps on 1,000 held keys.
func BenchmarkAllowParallel(b *testing.B) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	p := ratelimit.Policy{Name: "live", Limit: 1 << 30, Window: 1000 * time.Hour}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("acct_", i)
		_, _ = l.Allow(ctx, keys[i], p)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := l.Allow(ctx, keys[i%len(keys)], p); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkAllowOneKeyParallel measures contention on a single key.
func BenchmarkAllowOneKeyParallel(b *testing.B) {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	p := ratelimit.Policy{Name: "live", Limit: 1 << 30, Window: 1000 * time.Hour}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = l.Allow(ctx, "acct_1", p)
		}
	})
}

// BenchmarkSetHeaders measures writing the headers of an allowed request.
func BenchmarkSetHeaders(b *testing.B) {
	d := ratelimit.Decision{Allowed: true, Limit: 20, Remaining: 19, Reset: 500 * time.Millisecond}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		ratelimit.SetHeaders(h, live, d)
	}
}
