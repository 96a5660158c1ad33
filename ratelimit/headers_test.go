package ratelimit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/ratelimit"
)

func TestSetHeaders(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    ratelimit.Policy
		d    ratelimit.Decision
		want http.Header
	}{
		{
			"first request", live,
			ratelimit.Decision{Allowed: true, Limit: 20, Remaining: 19, Reset: 500 * time.Millisecond},
			http.Header{
				"Ratelimit-Policy": {`"live";q=20;w=10`},
				"Ratelimit":        {`"live";r=19;t=1`},
			},
		},
		{
			"refused after the burst", live,
			ratelimit.Decision{Limit: 20, RetryAfter: 500 * time.Millisecond, Reset: 10 * time.Second},
			http.Header{
				"Ratelimit-Policy": {`"live";q=20;w=10`},
				"Ratelimit":        {`"live";r=0;t=10`},
				"Retry-After":      {"1"},
			},
		},
		{
			"retry after rounds up", ratelimit.Policy{Name: "hourly", Limit: 7, Window: time.Hour},
			ratelimit.Decision{Limit: 7, RetryAfter: 8*time.Minute + 34*time.Second + 1, Reset: time.Hour - time.Second},
			http.Header{
				"Ratelimit-Policy": {`"hourly";q=7;w=3600`},
				"Ratelimit":        {`"hourly";r=0;t=3599`},
				"Retry-After":      {"515"},
			},
		},
		{
			"retry after at least 1", ratelimit.Policy{Name: "fast", Limit: 1000, Window: time.Second},
			ratelimit.Decision{Limit: 1000, RetryAfter: 0, Reset: time.Second},
			http.Header{
				"Ratelimit-Policy": {`"fast";q=1000;w=1`},
				"Ratelimit":        {`"fast";r=0;t=1`},
				"Retry-After":      {"1"},
			},
		},
		{
			"no name, sub-second window", ratelimit.Policy{Limit: 2, Window: 300 * time.Millisecond},
			ratelimit.Decision{Allowed: true, Limit: 2, Remaining: 2},
			http.Header{
				"Ratelimit-Policy": {`"default";q=2;w=1`},
				"Ratelimit":        {`"default";r=2;t=0`},
			},
		},
		{
			"name escaped", ratelimit.Policy{Name: "a\"b\\c\u00e9\n", Limit: 1, Window: 90 * time.Second},
			ratelimit.Decision{Allowed: true, Limit: 1, Reset: 90 * time.Second},
			http.Header{
				"Ratelimit-Policy": {`"a\"b\\c???";q=1;w=90`},
				"Ratelimit":        {`"a\"b\\c???";r=0;t=90`},
			},
		},
		{
			"unlimited", ratelimit.Policy{Name: "test"},
			ratelimit.Decision{Allowed: true},
			http.Header{},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			ratelimit.SetHeaders(h, tt.p, tt.d)
			assert.Equal(t, tt.want, h)
		})
	}
}

func TestSetHeadersReplaces(t *testing.T) {
	h := http.Header{}
	ratelimit.SetHeaders(h, live, ratelimit.Decision{Limit: 20, RetryAfter: time.Second})
	ratelimit.SetHeaders(h, live, ratelimit.Decision{Allowed: true, Limit: 20, Remaining: 3, Reset: 2 * time.Second})
	assert.Equal(t, `"live";r=3;t=2`, h.Get("RateLimit"))
	assert.Equal(t, `"live";q=20;w=10`, h.Get("RateLimit-Policy"))
	assert.Len(t, h.Values("RateLimit"), 1)
}

func TestSetHeadersFromLimiter(t *testing.T) {
	// The draft's example, end to end: 20 per 10 s, the 21st is refused.
	l, _ := newLimiter(0)
	h := http.Header{}
	for range 20 {
		d, _ := l.Allow(ctx, "k", live)
		h = http.Header{}
		ratelimit.SetHeaders(h, live, d)
	}
	assert.Equal(t, `"live";r=0;t=10`, h.Get("RateLimit"))
	assert.Empty(t, h.Get("Retry-After"))
	d, _ := l.Allow(ctx, "k", live)
	h = http.Header{}
	ratelimit.SetHeaders(h, live, d)
	assert.Equal(t, http.Header{
		"Ratelimit-Policy": {`"live";q=20;w=10`},
		"Ratelimit":        {`"live";r=0;t=10`},
		"Retry-After":      {"1"},
	}, h)
}
