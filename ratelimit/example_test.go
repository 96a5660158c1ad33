package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/keygate/keygate/ratelimit"
)

func Example() {
	l := ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	p, _ := ratelimit.ParsePolicy("20/10s")
	p.Name = "live"
	var d ratelimit.Decision
	for range 21 {
		d, _ = l.Allow(context.Background(), "acct_42", p)
	}
	h := http.Header{}
	ratelimit.SetHeaders(h, p, d)
	fmt.Println(d.Allowed, d.RetryAfter.Round(100*time.Millisecond))
	fmt.Println("RateLimit-Policy:", h.Get("RateLimit-Policy"))
	fmt.Println("RateLimit:", h.Get("RateLimit"))
	fmt.Println("Retry-After:", h.Get("Retry-After"))
	// Output:
	// false 500ms
	// RateLimit-Policy: "live";q=20;w=10
	// RateLimit: "live";r=0;t=10
	// Retry-After: 1
}
