package redisstore

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate/ratelimit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLimiterMatchesMemoryLimiter drives a Limiter and a
// ratelimit.MemoryLimiter with the same clock through the same requests,
// and checks that every Decision, and so every header SetHeaders writes,
// is the same.
//
// The Limiter's script takes the test's clock instead of Redis's TIME. The
// clock only moves forward, and faster than real time, so a key that Redis
// expires (in real time) has always passed its TAT on the test's clock.
func TestLimiterMatchesMemoryLimiter(t *testing.T) {
	cfg := testConfig(t)
	ctx := ctxT(t)
	policies := []ratelimit.Policy{
		{Name: "a", Limit: 100, Window: time.Minute},
		{Name: "b", Limit: 6, Window: 7 * time.Second},
		{Name: "c", Limit: 7, Window: time.Hour},
		{Name: "d", Limit: 3, Window: 3 * time.Second},
		{Name: "e", Limit: 1, Window: 24 * time.Hour},
		{Name: "f", Limit: 20, Window: 10 * time.Second},
		{Name: "g", Limit: 1000, Window: time.Hour},
		{Name: "h", Limit: 9, Window: 11*time.Second + 7},
		{Name: "i", Limit: 2, Window: 90 * 24 * time.Hour},
	}
	for _, p := range policies {
		t.Run(p.Name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			rng := rand.New(rand.NewPCG(seed, 1))
			now := time.Now()
			clock := func() time.Time { return now }
			mem := ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{Now: clock})
			l := must[*Limiter](t)(NewLimiter(cfg))
			l.clock = func() (int64, int64) { return now.Unix(), int64(now.Nanosecond()) }
			key := fmt.Sprintf("match-%s-%d", p.Name, seed)
			interval := p.Interval()
			allowed, refused := 0, 0
			for i := range 2*p.Limit + 300 {
				// Until the first refusal, a burst at one instant;
				// then often several requests at one instant,
				// sometimes a step of one nanosecond around a
				// boundary, now and then (about once a run) a whole
				// window idle.
				switch r := rng.IntN(100); {
				case refused == 0:
				case rng.IntN(2*p.Limit+300) == 0:
					now = now.Add(p.Window)
				case r < 50:
				case r < 60:
					now = now.Add(1)
				case r < 90:
					now = now.Add(time.Duration(rng.Int64N(int64(interval))))
				default:
					now = now.Add(time.Duration(rng.Int64N(int64(3 * interval))))
				}
				peek := rng.IntN(4) == 0
				var want, got ratelimit.Decision
				var err error
				if peek {
					want = must[ratelimit.Decision](t)(mem.Peek(ctx, key, p))
					got, err = l.Peek(ctx, key, p)
				} else {
					want = must[ratelimit.Decision](t)(mem.Allow(ctx, key, p))
					got, err = l.Allow(ctx, key, p)
				}
				require.NoError(t, err)
				require.Equal(t, want, got, "request %d (peek %v, seed %d)", i, peek, seed)
				hw, hg := http.Header{}, http.Header{}
				ratelimit.SetHeaders(hw, p, want)
				ratelimit.SetHeaders(hg, p, got)
				require.Equal(t, hw, hg)
				if want.Allowed {
					allowed++
				} else {
					refused++
				}
			}
			// The sequence must have exercised both answers.
			assert.Greater(t, allowed, p.Limit)
			assert.Positive(t, refused)
		})
	}
}

// TestLimiterHeaders checks the headers of the ratelimit package's own
// example against Redis's clock: a fresh key's first request and a refusal
// right after a burst.
func TestLimiterHeaders(t *testing.T) {
	l := must[*Limiter](t)(NewLimiter(testConfig(t)))
	ctx := ctxT(t)
	p := ratelimit.Policy{Name: "live", Limit: 20, Window: 10 * time.Second}
	h := http.Header{}
	ratelimit.SetHeaders(h, p, must[ratelimit.Decision](t)(l.Allow(ctx, "k", p)))
	assert.Equal(t, `"live";q=20;w=10`, h.Get(ratelimit.HeaderPolicy))
	assert.Equal(t, `"live";r=19;t=1`, h.Get(ratelimit.HeaderRateLimit))
	for range 19 {
		require.True(t, must[ratelimit.Decision](t)(l.Allow(ctx, "k", p)).Allowed)
	}
	h = http.Header{}
	d := must[ratelimit.Decision](t)(l.Allow(ctx, "k", p))
	require.False(t, d.Allowed)
	ratelimit.SetHeaders(h, p, d)
	assert.Equal(t, `"live";r=0;t=10`, h.Get(ratelimit.HeaderRateLimit))
	assert.Equal(t, "1", h.Get(ratelimit.HeaderRetryAfter))
}
