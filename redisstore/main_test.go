package redisstore

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/servicetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: every store
// and client must be done with once its test is.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newClient returns a client for the test Redis (servicetest.RedisURL:
// the test is skipped, or fails under CI, without one), closed and rid of
// the keys under the prefixes handed out by prefix when t ends.
func newClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(servicetest.RedisURL(t))
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Ping(ctx).Err(), "the test Redis at %s does not answer", opt.Addr)
	return c
}

// prefix returns a key prefix no other test or run uses, and deletes the
// keys under it when t ends.
func prefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	p := "keygate-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := c.Keys(ctx, p+"*").Result()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting the test keys under %s: %v", p, err)
		}
	})
	return p
}

// testConfig returns a Config for a new client and prefix.
func testConfig(t testing.TB) Config {
	t.Helper()
	c := newClient(t)
	return Config{Client: c, Prefix: prefix(t, c)}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		require.NoError(t, err)
		return v
	}
}
