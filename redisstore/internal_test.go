package redisstore

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTTL(t *testing.T) {
	tests := []struct {
		in, want time.Duration
	}{
		{math.MinInt64, time.Millisecond},
		{-time.Second, time.Millisecond},
		{0, time.Millisecond},
		{1, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{time.Millisecond + 1, 2 * time.Millisecond},
		{1500 * time.Microsecond, 2 * time.Millisecond},
		{time.Minute - 1, time.Minute},
		{time.Minute, time.Minute},
		{maxTTL - 1, maxTTL},
		{maxTTL, maxTTL},
		{math.MaxInt64, maxTTL},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ttl(tt.in), "ttl(%d)", int64(tt.in))
		assert.Equal(t, int64(tt.want/time.Millisecond), ttlMillis(tt.in), "ttlMillis(%d)", int64(tt.in))
	}
}

func TestUnixNanos(t *testing.T) {
	tests := []struct {
		in   time.Time
		want int64
	}{
		{time.Time{}, 0},
		{time.Unix(-1, 0), 0},
		{time.Unix(0, 0), 0},
		{time.Unix(0, 1), 1},
		{time.Unix(1763800000, 123456789), 1763800000123456789},
		{time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, unixNanos(tt.in), "unixNanos(%v)", tt.in)
	}
}

// TestNonceKey pins the nonce key's format: instances of different
// versions sharing a Redis must name a nonce alike, or a replay could
// slip between them during a rolling upgrade.
func TestNonceKey(t *testing.T) {
	s := &NonceStore{store: store{prefix: "p:"}}
	assert.Equal(t, "p:nonce:Yw0I_iGTyaDQBjwE8Lr96-6Enjj_KHkNimH-MaZOejk", s.nonceKey("key_1", "n1"))
	assert.NotEqual(t, s.nonceKey("key_1", "n1"), s.nonceKey("key_1n", "1"))
}

// TestNonceReservationErrorForgetsTheNonce: when the reservation script
// fails after SET NX recorded a new nonce, Claim deletes the nonce again,
// so that a retry is not refused as a replay.
func TestNonceReservationErrorForgetsTheNonce(t *testing.T) {
	c := newClient(t)
	s := must[*NonceStore](t)(NewNonceStore(Config{Client: c, Prefix: prefix(t, c)}))
	ctx := ctxT(t)
	q := s.key("nonceq:", ownerHash("key_1"))
	require.NoError(t, c.Set(ctx, q, "not a sorted set", time.Minute).Err()) // the script fails: WRONGTYPE
	_, err := s.Claim(ctx, "key_1", "n1", time.Now().Add(time.Minute))
	require.Error(t, err)
	assert.Equal(t, int64(0), must[int64](t)(c.Exists(ctx, s.nonceKey("key_1", "n1")).Result()), "the nonce is left recorded")
	require.NoError(t, c.Del(ctx, q).Err())
	assert.True(t, must[bool](t)(s.Claim(ctx, "key_1", "n1", time.Now().Add(time.Minute))), "a retry is refused as a replay")
}
