package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/ratelimit"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stores is one of each store on one Config.
type stores struct {
	nonces  *NonceStore
	onetime *OneTimeStore
	deny    *Denylist
	limiter *Limiter
}

func newStores(t testing.TB, cfg Config) stores {
	t.Helper()
	return stores{
		nonces:  must[*NonceStore](t)(NewNonceStore(cfg)),
		onetime: must[*OneTimeStore](t)(NewOneTimeStore(cfg)),
		deny:    must[*Denylist](t)(NewDenylist(cfg)),
		limiter: must[*Limiter](t)(NewLimiter(cfg)),
	}
}

func sampleRecord(now time.Time) jwt.OneTimeRecord {
	var h [32]byte
	_, _ = rand.Read(h[:])
	return jwt.OneTimeRecord{Hash: h, Purpose: "checkout:confirm", Account: "acct_1", Mode: keygate.ModeTest,
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func TestNewInvalidConfig(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no client", Config{Prefix: "p:"}},
		{"negative SubjectTTL", Config{Client: c, SubjectTTL: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewNonceStore(tt.cfg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			_, err = NewOneTimeStore(tt.cfg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			_, err = NewDenylist(tt.cfg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			_, err = NewLimiter(tt.cfg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

// TestPrefixIsolation checks that stores under two prefixes on one Redis
// never see each other's entries, and that every key they write starts
// with their prefix and holds no nonce or token in clear.
func TestPrefixIsolation(t *testing.T) {
	c := newClient(t)
	pa, pb := prefix(t, c), prefix(t, c)
	a, b := newStores(t, Config{Client: c, Prefix: pa}), newStores(t, Config{Client: c, Prefix: pb})
	ctx := ctxT(t)
	now := time.Now()

	nonce := "nonce-" + rand.Text()
	exp := now.Add(time.Minute)
	assert.True(t, must[bool](t)(a.nonces.Claim(ctx, "key_1", nonce, exp)))
	assert.True(t, must[bool](t)(b.nonces.Claim(ctx, "key_1", nonce, exp)), "a nonce claimed under prefix A is a replay under B")
	assert.False(t, must[bool](t)(a.nonces.Claim(ctx, "key_1", nonce, exp)))

	rec := sampleRecord(now)
	require.NoError(t, a.onetime.Put(ctx, rec, 0))
	_, err := b.onetime.Consume(ctx, rec.Hash)
	assert.ErrorIs(t, err, jwt.ErrNotFound, "a token put under prefix A is found under B")
	require.NoError(t, b.onetime.Put(ctx, rec, 0), "the same hash under another prefix is another record")
	_, err = a.onetime.Consume(ctx, rec.Hash)
	assert.NoError(t, err)
	_, err = b.onetime.Consume(ctx, rec.Hash)
	assert.NoError(t, err)

	require.NoError(t, a.deny.RevokeToken(ctx, "jti_1", now.Add(time.Hour)))
	require.NoError(t, a.deny.RevokeSubject(ctx, "sub_1", now))
	assert.True(t, must[bool](t)(a.deny.IsRevoked(ctx, "jti_1", "sub_2", "", now)))
	assert.True(t, must[bool](t)(a.deny.IsRevoked(ctx, "jti_2", "sub_1", "", now.Add(-time.Second))))
	assert.False(t, must[bool](t)(b.deny.IsRevoked(ctx, "jti_1", "sub_1", "", now.Add(-time.Second))), "a revocation under prefix A applies under B")

	p := ratelimit.Policy{Limit: 2, Window: time.Hour}
	for range 2 {
		require.True(t, must[ratelimit.Decision](t)(a.limiter.Allow(ctx, "acct_1", p)).Allowed)
	}
	assert.False(t, must[ratelimit.Decision](t)(a.limiter.Allow(ctx, "acct_1", p)).Allowed)
	d := must[ratelimit.Decision](t)(b.limiter.Allow(ctx, "acct_1", p))
	assert.True(t, d.Allowed && d.Remaining == 1, "a burst under prefix A counts under B: %+v", d)

	tokenHash := string(rec.Hash[:])
	for _, pf := range []string{pa, pb} {
		keys := must[[]string](t)(c.Keys(ctx, pf+"*").Result())
		assert.NotEmpty(t, keys)
		for _, k := range keys {
			rest := strings.TrimPrefix(k, pf)
			assert.Regexp(t, `^((nonce|nonceq|onetimeq):[A-Za-z0-9_-]{43}|deny:(jti|sub):.+|rate:.+)$`, rest)
			assert.NotContains(t, k, nonce)
			assert.NotContains(t, k, tokenHash)
		}
	}
}

func TestDefaultPrefix(t *testing.T) {
	c := newClient(t)
	s := must[*NonceStore](t)(NewNonceStore(Config{Client: c}))
	ctx := ctxT(t)
	key := "key_" + rand.Text()
	require.True(t, must[bool](t)(s.Claim(ctx, key, "n", time.Now().Add(time.Minute))))
	k := s.nonceKey(key, "n")
	t.Cleanup(func() { c.Del(context.Background(), k) })
	assert.True(t, strings.HasPrefix(k, DefaultPrefix+"nonce:"), k)
	assert.Equal(t, int64(1), must[int64](t)(c.Exists(ctx, k).Result()))
}

// serverTime returns the Redis server's clock (TIME).
func serverTime(t *testing.T, c redis.UniversalClient) time.Time {
	t.Helper()
	return must[time.Time](t)(c.Time(ctxT(t)).Result())
}

// expiry returns when key expires on the server's clock (PEXPIRETIME),
// to the millisecond, failing if the key is missing or never expires.
func expiry(t *testing.T, c redis.UniversalClient, key string) time.Time {
	t.Helper()
	ms := must[int64](t)(c.Do(ctxT(t), "PEXPIRETIME", key).Int64())
	require.Positive(t, ms, "key %s has no expiry (or is missing)", key)
	return time.UnixMilli(ms)
}

// expiresBetween checks that key expires want after an instant of the
// server's clock between from and to, as it does when a command run
// between them gave it a TTL of want. The server's clock brackets the
// expiry: no tolerance for the time the test takes, only a millisecond
// either side for the rounding of times to whole milliseconds.
func expiresBetween(t *testing.T, c redis.UniversalClient, what, key string, from, to time.Time, want time.Duration) {
	t.Helper()
	got := expiry(t, c, key)
	lo, hi := from.Add(want-time.Millisecond), to.Add(want+time.Millisecond)
	assert.True(t, !got.Before(lo) && !got.After(hi), "%s: expires %v after the server's time before, %v after its time after, want %v",
		what, got.Sub(from), got.Sub(to), want)
}

// expiresIn runs op and checks that it gave key a TTL of want.
func expiresIn(t *testing.T, c redis.UniversalClient, what, key string, want time.Duration, op func()) {
	t.Helper()
	from := serverTime(t, c)
	op()
	expiresBetween(t, c, what, key, from, serverTime(t, c), want)
}

// keepsExpiry runs op and checks that it left key's expiry as it was.
func keepsExpiry(t *testing.T, c redis.UniversalClient, what, key string, op func()) {
	t.Helper()
	was := expiry(t, c, key)
	op()
	assert.Equal(t, was, expiry(t, c, key), "%s: the expiry changed", what)
}

// argsHook records the arguments of every command a client sends.
type argsHook struct {
	mu   sync.Mutex
	args [][]any
}

func (h *argsHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *argsHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h *argsHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds...)
		return next(ctx, cmds)
	}
}

func (h *argsHook) record(cmds ...redis.Cmder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cmds {
		h.args = append(h.args, c.Args())
	}
}

// set returns the arguments of the last SET of key.
func (h *argsHook) set(key string) []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range slices.Backward(h.args) {
		if len(a) > 1 && strings.EqualFold(fmt.Sprint(a[0]), "set") && a[1] == key {
			return a
		}
	}
	return nil
}

// TestTTLs checks, with the server's PEXPIRETIME and TIME, that every key
// gets the expiry it should, measured from the configured clock.
func TestTTLs(t *testing.T) {
	c := newClient(t)
	sent := &argsHook{}
	c.AddHook(sent)
	// A clock far from the real one: TTLs run from it, not from Redis's.
	fake := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := Config{Client: c, Prefix: prefix(t, c), Now: func() time.Time { return fake }, SubjectTTL: 3 * time.Hour}
	s := newStores(t, cfg)
	ctx := ctxT(t)

	t.Run("nonce", func(t *testing.T) {
		expiresIn(t, c, "nonce", s.nonces.nonceKey("key_1", "n1"), 10*time.Minute, func() {
			require.True(t, must[bool](t)(s.nonces.Claim(ctx, "key_1", "n1", fake.Add(10*time.Minute))))
		})
		// Sub-millisecond expiries round up, never to zero: the SET asks
		// for 2 ms, and the key either has expired already or expires
		// within 2 ms.
		n2 := s.nonces.nonceKey("key_1", "n2")
		require.True(t, must[bool](t)(s.nonces.Claim(ctx, "key_1", "n2", fake.Add(1500*time.Microsecond))))
		d := must[time.Duration](t)(c.PTTL(ctx, n2).Result())
		assert.True(t, d == -2 || (d > 0 && d <= 2*time.Millisecond), "PTTL %v, want at most 2ms (or expired)", d)
		assert.Equal(t, []any{"set", n2, "1", "px", int64(2), "nx"}, sent.set(n2))
		_, err := s.nonces.Claim(ctx, "key_1", "n3", fake)
		assert.Error(t, err, "an expiry that is not after now")
		// A far expiry is kept for maxTTL.
		expiresIn(t, c, "far nonce", s.nonces.nonceKey("key_1", "n4"), maxTTL, func() {
			require.True(t, must[bool](t)(s.nonces.Claim(ctx, "key_1", "n4", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))))
		})
	})

	t.Run("one-time token", func(t *testing.T) {
		rec := sampleRecord(fake)
		rec.ExpiresAt = fake.Add(90 * time.Second)
		expiresIn(t, c, "one-time token", s.onetime.oneTimeKey(rec.Hash), 90*time.Second, func() {
			require.NoError(t, s.onetime.Put(ctx, rec, 0))
		})
		// Already expired: kept a millisecond, and a duplicate is still refused.
		old := sampleRecord(fake.Add(-time.Hour))
		old.ExpiresAt = fake.Add(-time.Minute)
		require.NoError(t, s.onetime.Put(ctx, old, 0))
	})

	t.Run("revoked token", func(t *testing.T) {
		key := s.deny.key("deny:jti:", "jti_1")
		expiresIn(t, c, "revoked token", key, time.Hour+jwt.RevocationMargin, func() {
			require.NoError(t, s.deny.RevokeToken(ctx, "jti_1", fake.Add(time.Hour)))
		})
		keepsExpiry(t, c, "revoked again with an earlier expiry", key, func() {
			require.NoError(t, s.deny.RevokeToken(ctx, "jti_1", fake.Add(time.Minute)))
		})
		expiresIn(t, c, "revoked again with a later expiry", key, 2*time.Hour+jwt.RevocationMargin, func() {
			require.NoError(t, s.deny.RevokeToken(ctx, "jti_1", fake.Add(2*time.Hour)))
		})
		expiresIn(t, c, "revoked again with a far expiry", key, maxTTL, func() {
			require.NoError(t, s.deny.RevokeToken(ctx, "jti_1", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)))
		})
		// Expired past the margin: nothing to store.
		require.NoError(t, s.deny.RevokeToken(ctx, "jti_2", fake.Add(-jwt.RevocationMargin-time.Second)))
		assert.Zero(t, must[int64](t)(c.Exists(ctx, s.deny.key("deny:jti:", "jti_2")).Result()))
	})

	t.Run("subject cut-off", func(t *testing.T) {
		key := s.deny.key("deny:sub:", "sub_1")
		expiresIn(t, c, "subject", key, 3*time.Hour, func() {
			require.NoError(t, s.deny.RevokeSubject(ctx, "sub_1", fake))
		})
		keepsExpiry(t, c, "an earlier cut-off", key, func() {
			require.NoError(t, s.deny.RevokeSubject(ctx, "sub_1", fake.Add(-time.Hour)))
		})
		expiresIn(t, c, "a later cut-off", key, 4*time.Hour, func() {
			require.NoError(t, s.deny.RevokeSubject(ctx, "sub_1", fake.Add(time.Hour)))
		})
		require.NoError(t, s.deny.RevokeSubject(ctx, "sub_2", fake.Add(-3*time.Hour-time.Second)))
		assert.Zero(t, must[int64](t)(c.Exists(ctx, s.deny.key("deny:sub:", "sub_2")).Result()))
	})

	t.Run("default SubjectTTL", func(t *testing.T) {
		d := must[*Denylist](t)(NewDenylist(Config{Client: c, Prefix: cfg.Prefix, Now: cfg.Now}))
		expiresIn(t, c, "subject", d.key("deny:sub:", "sub_3"), DefaultSubjectTTL, func() {
			require.NoError(t, d.RevokeSubject(ctx, "sub_3", fake))
		})
	})

	t.Run("rate limit", func(t *testing.T) {
		// The limiter's time is Redis's; the key lives until its TAT.
		p := ratelimit.Policy{Limit: 10, Window: time.Hour}
		key := s.limiter.key("rate:", "acct_1")
		first := serverTime(t, c)
		expiresIn(t, c, "after one request", key, 6*time.Minute, func() {
			require.True(t, must[ratelimit.Decision](t)(s.limiter.Allow(ctx, "acct_1", p)).Allowed)
		})
		for range 9 {
			require.True(t, must[ratelimit.Decision](t)(s.limiter.Allow(ctx, "acct_1", p)).Allowed)
		}
		// The TAT is an hour after the first request.
		expiresBetween(t, c, "after the burst", key, first, serverTime(t, c), time.Hour)
		keepsExpiry(t, c, "after a refusal", key, func() {
			require.False(t, must[ratelimit.Decision](t)(s.limiter.Allow(ctx, "acct_1", p)).Allowed)
		})
		_ = must[ratelimit.Decision](t)(s.limiter.Peek(ctx, "acct_2", p))
		assert.Zero(t, must[int64](t)(c.Exists(ctx, s.limiter.key("rate:", "acct_2")).Result()), "Peek stored a key")
	})
}

// TestSubjectCutOffNanoseconds checks that cut-offs compare to the
// nanosecond, as MemoryDenylist's do, beyond the precision of Lua's
// numbers.
func TestSubjectCutOffNanoseconds(t *testing.T) {
	d := must[*Denylist](t)(NewDenylist(testConfig(t)))
	ctx := ctxT(t)
	cut := time.Now().Truncate(time.Second).Add(123456789)
	require.NoError(t, d.RevokeSubject(ctx, "sub", cut))
	for _, step := range []time.Duration{-1, 1} {
		// A later cut-off one nanosecond away replaces it; an earlier one does not.
		require.NoError(t, d.RevokeSubject(ctx, "sub", cut.Add(step)))
	}
	cut = cut.Add(1)
	assert.True(t, must[bool](t)(d.IsRevoked(ctx, "jti", "sub", "", cut.Add(-1))))
	assert.False(t, must[bool](t)(d.IsRevoked(ctx, "jti", "sub", "", cut)))
}

// TestMalformedEntries checks that a value the stores did not write (or a
// key of another type) is an error, never an answer.
func TestMalformedEntries(t *testing.T) {
	cfg := testConfig(t)
	s := newStores(t, cfg)
	c := cfg.Client
	ctx := ctxT(t)

	rec := sampleRecord(time.Now())
	require.NoError(t, c.Set(ctx, s.onetime.oneTimeKey(rec.Hash), "{not json", time.Minute).Err())
	_, err := s.onetime.Consume(ctx, rec.Hash)
	assert.Error(t, err)
	assert.NotErrorIs(t, err, jwt.ErrNotFound)

	// A record filed under another hash is refused.
	other := sampleRecord(time.Now())
	require.NoError(t, s.onetime.Put(ctx, other, 0))
	v := must[string](t)(c.Get(ctx, s.onetime.oneTimeKey(other.Hash)).Result())
	require.NoError(t, c.Set(ctx, s.onetime.oneTimeKey(rec.Hash), v, time.Minute).Err())
	_, err = s.onetime.Consume(ctx, rec.Hash)
	assert.Error(t, err)
	assert.NotErrorIs(t, err, jwt.ErrNotFound)

	require.NoError(t, c.Set(ctx, s.deny.key("deny:sub:", "sub"), "yesterday", time.Minute).Err())
	revoked, err := s.deny.IsRevoked(ctx, "jti", "sub", "", time.Now())
	assert.Error(t, err)
	assert.False(t, revoked)

	require.NoError(t, c.LPush(ctx, s.deny.key("deny:jti:", "jti"), "x").Err())
	require.NoError(t, c.Expire(ctx, s.deny.key("deny:jti:", "jti"), time.Minute).Err())
	require.NoError(t, c.LPush(ctx, s.limiter.key("rate:", "k"), "x").Err())
	require.NoError(t, c.Expire(ctx, s.limiter.key("rate:", "k"), time.Minute).Err())
	d, err := s.limiter.Allow(ctx, "k", ratelimit.Policy{Limit: 1, Window: time.Second})
	assert.Error(t, err)
	assert.False(t, d.Allowed)
	require.NoError(t, c.Set(ctx, s.limiter.key("rate:", "k"), "garbage", time.Minute).Err())
	d, err = s.limiter.Allow(ctx, "k", ratelimit.Policy{Limit: 1, Window: time.Second})
	assert.Error(t, err)
	assert.False(t, d.Allowed)
}

// operations returns a call of every operation of s. Each reports whether
// its answer grants something (a nonce claimed, a token revoked, a request
// allowed), and its error.
func operations(s stores) map[string]func(context.Context) (bool, error) {
	p := ratelimit.Policy{Limit: 10, Window: time.Minute}
	return map[string]func(context.Context) (bool, error){
		"Claim": func(ctx context.Context) (bool, error) {
			return s.nonces.Claim(ctx, "key_1", rand.Text(), time.Now().Add(time.Minute))
		},
		"Put": func(ctx context.Context) (bool, error) {
			return false, s.onetime.Put(ctx, sampleRecord(time.Now()), 0)
		},
		"Consume": func(ctx context.Context) (bool, error) {
			_, err := s.onetime.Consume(ctx, sha256.Sum256([]byte("token")))
			if errors.Is(err, jwt.ErrNotFound) {
				return false, nil // an answer: no such token
			}
			return err == nil, err
		},
		"RevokeToken": func(ctx context.Context) (bool, error) {
			return false, s.deny.RevokeToken(ctx, "jti", time.Now().Add(time.Hour))
		},
		"RevokeSubject": func(ctx context.Context) (bool, error) {
			return false, s.deny.RevokeSubject(ctx, "sub", time.Now())
		},
		"IsRevoked": func(ctx context.Context) (bool, error) {
			// An error comes with false, which the caller must not
			// take for "not revoked": only a false without an error
			// grants access.
			revoked, err := s.deny.IsRevoked(ctx, "jti", "sub", "", time.Now())
			return !revoked && err == nil, err
		},
		"Allow": func(ctx context.Context) (bool, error) {
			d, err := s.limiter.Allow(ctx, "k", p)
			return d.Allowed, err
		},
		"Peek": func(ctx context.Context) (bool, error) {
			d, err := s.limiter.Peek(ctx, "k", p)
			return d.Allowed, err
		},
	}
}

// failClosed checks that every operation of s fails, granting nothing,
// and that what ended it is the deadline of its context: the error wraps
// context.DeadlineExceeded, not that of a dial the client's retries gave
// up on after it, and no call outlives its context (it would hang the test).
func failClosed(t *testing.T, s stores, deadline time.Duration) {
	t.Helper()
	for op, call := range operations(s) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		granted, err := call(ctx)
		cancel()
		assert.Error(t, err, op)
		assert.False(t, granted, op)
		assert.NotErrorIs(t, err, jwt.ErrNotFound, op)
		assert.NotErrorIs(t, err, jwt.ErrExists, op)
		assert.ErrorIs(t, err, context.DeadlineExceeded, op)
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestRedisDownFailsClosed points the stores at a port where no Redis
// listens: every operation returns an error — never a claimed nonce, a
// missing token, an unrevoked token or an allowed request — within its
// context's deadline (the client's default options retry dialling for
// longer than that).
func TestRedisDownFailsClosed(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	defer c.Close()
	failClosed(t, newStores(t, Config{Client: c}), 300*time.Millisecond)
}

// TestRedisHungFailsClosed points the stores at a server that accepts
// connections and never answers: with ContextTimeoutEnabled, the context
// deadline bounds each call, which fails.
func TestRedisHungFailsClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(conn, true) // read nothing, answer nothing
		}
	})
	defer func() {
		l.Close()
		wg.Wait()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	}()
	c := redis.NewClient(&redis.Options{Addr: l.Addr().String(), ContextTimeoutEnabled: true})
	defer c.Close()
	failClosed(t, newStores(t, Config{Client: c}), 300*time.Millisecond)
}

// TestSharedAcrossClients runs two instances — two clients with their own
// connection pools, on one prefix — against each other: a nonce or a
// one-time token is used once in all, and a limit holds for both together.
func TestSharedAcrossClients(t *testing.T) {
	c1, c2 := newClient(t), newClient(t)
	p := prefix(t, c1)
	a, b := newStores(t, Config{Client: c1, Prefix: p}), newStores(t, Config{Client: c2, Prefix: p})
	ctx := ctxT(t)
	const racers = 200
	race := func(fn func(s stores) bool) int64 {
		var wins atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				<-start
				if fn(s) {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		return wins.Load()
	}

	exp := time.Now().Add(time.Minute)
	assert.Equal(t, int64(1), race(func(s stores) bool {
		ok, err := s.nonces.Claim(ctx, "key_1", "nonce", exp)
		assert.NoError(t, err)
		return ok
	}), "claims of one nonce on two instances")

	rec := sampleRecord(time.Now())
	require.NoError(t, a.onetime.Put(ctx, rec, 0))
	assert.Equal(t, int64(1), race(func(s stores) bool {
		_, err := s.onetime.Consume(ctx, rec.Hash)
		if err != nil {
			assert.ErrorIs(t, err, jwt.ErrNotFound)
		}
		return err == nil
	}), "consumers of one token on two instances")

	policy := ratelimit.Policy{Limit: 37, Window: time.Hour}
	assert.Equal(t, int64(policy.Limit), race(func(s stores) bool {
		d, err := s.limiter.Allow(ctx, "acct_1", policy)
		assert.NoError(t, err)
		return d.Allowed
	}), "requests allowed on two instances")

	require.NoError(t, a.deny.RevokeToken(ctx, "jti_1", time.Now().Add(time.Hour)))
	assert.True(t, must[bool](t)(b.deny.IsRevoked(ctx, "jti_1", "sub", "", time.Now())))
}
