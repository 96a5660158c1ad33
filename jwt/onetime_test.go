package jwt_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/jwt/jwttest"
)

func TestMemoryOneTimeStore(t *testing.T) {
	jwttest.TestOneTimeStore(t, func(*testing.T) jwt.OneTimeStore { return jwt.NewMemoryOneTimeStore() })
}

// countingOneTimeStore counts the calls that reach the store, and fails
// them with err when err is set.
type countingOneTimeStore struct {
	jwt.OneTimeStore
	calls atomic.Int64
	err   error
}

func (s *countingOneTimeStore) Put(ctx context.Context, rec jwt.OneTimeRecord, max int) error {
	s.calls.Add(1)
	if s.err != nil {
		return s.err
	}
	return s.OneTimeStore.Put(ctx, rec, max)
}

func (s *countingOneTimeStore) Consume(ctx context.Context, h [32]byte) (jwt.OneTimeRecord, error) {
	s.calls.Add(1)
	if s.err != nil {
		return jwt.OneTimeRecord{}, s.err
	}
	return s.OneTimeStore.Consume(ctx, h)
}

type oneTimeEnv struct {
	clock *fakeClock
	store *countingOneTimeStore
	ot    *jwt.OneTimeTokens
}

func newOneTimeEnv(t *testing.T) *oneTimeEnv {
	t.Helper()
	e := &oneTimeEnv{clock: newClock(), store: &countingOneTimeStore{OneTimeStore: jwt.NewMemoryOneTimeStore()}}
	ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{Store: e.store, Now: e.clock.Now})
	require.NoError(t, err)
	e.ot = ot
	return e
}

const purpose = "checkout:confirm"

var baseParams = jwt.OneTimeParams{
	Purpose: purpose,
	Account: "acct_1",
	KeyID:   "key0000000000001",
	Subject: "acct_1",
	Mode:    keygate.ModeLive,
}

var oneTimeTokenRE = regexp.MustCompile(`^kgot_[A-Za-z0-9_-]{43}$`)

func TestOneTimeIssue(t *testing.T) {
	e := newOneTimeEnv(t)
	ctx := context.Background()
	tok, issued, err := e.ot.Issue(ctx, baseParams)
	require.NoError(t, err)
	assert.Regexp(t, oneTimeTokenRE, tok)
	assert.Len(t, tok, jwt.OneTimeTokenLen)
	assert.Equal(t, 60*time.Second, issued.ExpiresAt.Sub(issued.IssuedAt), "the default lifetime is 60 s")
	assert.Equal(t, jwt.DefaultOneTimeTTL, issued.ExpiresAt.Sub(issued.IssuedAt))

	// The store holds the SHA-256 of the whole token, never the token;
	// Issue returns the record it stored.
	rec, err := e.ot.Store().Consume(ctx, sha256.Sum256([]byte(tok)))
	require.NoError(t, err)
	assert.Equal(t, jwt.OneTimeRecord{
		Hash: sha256.Sum256([]byte(tok)), Purpose: purpose, Account: "acct_1", KeyID: "key0000000000001",
		Subject: "acct_1", Mode: keygate.ModeLive,
		IssuedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Minute),
	}, rec)
	assert.Equal(t, rec, issued)
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", rec, rec, rec), tok[len(jwt.OneTimeTokenPrefix):])

	other, _, err := e.ot.Issue(ctx, baseParams)
	require.NoError(t, err)
	assert.NotEqual(t, tok, other)
}

func TestOneTimeIssueInvalid(t *testing.T) {
	e := newOneTimeEnv(t)
	for name, mutate := range map[string]func(*jwt.OneTimeParams){
		"no purpose": func(p *jwt.OneTimeParams) { p.Purpose = "" },
		"no account": func(p *jwt.OneTimeParams) { p.Account = "" },
		"no mode":    func(p *jwt.OneTimeParams) { p.Mode = "" },
		"bad mode":   func(p *jwt.OneTimeParams) { p.Mode = "prod" },
	} {
		t.Run(name, func(t *testing.T) {
			p := baseParams
			mutate(&p)
			tok, _, err := e.ot.Issue(context.Background(), p)
			assert.ErrorIs(t, err, jwt.ErrInvalidParams)
			assert.Empty(t, tok)
		})
	}
}

func TestNewOneTimeTokensConfig(t *testing.T) {
	_, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{TTL: -time.Second})
	require.ErrorIs(t, err, jwt.ErrInvalidConfig)

	ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{})
	require.NoError(t, err)
	assert.IsType(t, &jwt.MemoryOneTimeStore{}, ot.Store(), "the default store is in memory")

	clock := newClock()
	ot, err = jwt.NewOneTimeTokens(jwt.OneTimeConfig{TTL: 5 * time.Minute, Now: clock.Now})
	require.NoError(t, err)
	tok, issued, err := ot.Issue(context.Background(), baseParams)
	require.NoError(t, err)
	assert.Equal(t, clock.Now().Add(5*time.Minute), issued.ExpiresAt)
	clock.Advance(5*time.Minute - time.Second)
	_, err = ot.Redeem(context.Background(), tok, jwt.Use{Purpose: purpose})
	require.NoError(t, err)
}

// TestOneTimeRedeem issues a token with bindings, presents it once as the
// case says, and then checks that it is gone whatever the outcome.
func TestOneTimeRedeem(t *testing.T) {
	body := []byte(`{"order":"order_42","amount":1999}`)
	bound := baseParams
	bound.Method, bound.Path, bound.EntityID, bound.Body = "POST", "/v1/checkout/confirm", "order_42", body
	match := jwt.Use{Purpose: purpose, Method: "POST", Path: "/v1/checkout/confirm", EntityID: "order_42", Body: body}
	with := func(f func(*jwt.Use)) jwt.Use {
		u := match
		u.Body = append([]byte(nil), body...)
		f(&u)
		return u
	}
	emptyBody := baseParams
	emptyBody.Body = []byte{}

	tests := []struct {
		name    string
		params  jwt.OneTimeParams
		advance time.Duration
		use     jwt.Use
		wantErr error // nil: redeemed
		binding string
	}{
		{"no bindings", baseParams, 0, jwt.Use{Purpose: purpose}, nil, ""},
		{"no bindings, any request", baseParams, 0, jwt.Use{Purpose: purpose, Method: "DELETE", Path: "/x", EntityID: "y", Body: []byte("z")}, nil, ""},
		{"every binding matches", bound, 0, match, nil, ""},
		{"just before expiry", bound, 60*time.Second - time.Nanosecond, match, nil, ""},
		{"at expiry", bound, 60 * time.Second, match, jwt.ErrOneTimeExpired, ""},
		{"long expired", bound, time.Hour, match, jwt.ErrOneTimeExpired, ""},
		{"wrong purpose", bound, 0, with(func(u *jwt.Use) { u.Purpose = "account:delete" }), jwt.ErrOneTimePurpose, ""},
		{"purpose differs in case", bound, 0, with(func(u *jwt.Use) { u.Purpose = "Checkout:Confirm" }), jwt.ErrOneTimePurpose, ""},
		{"route without a purpose", baseParams, 0, jwt.Use{}, jwt.ErrOneTimePurpose, ""},
		{"wrong method", bound, 0, with(func(u *jwt.Use) { u.Method = "PUT" }), jwt.ErrOneTimeBinding, "method"},
		{"lower-case method", bound, 0, with(func(u *jwt.Use) { u.Method = "post" }), jwt.ErrOneTimeBinding, "method"},
		{"no method", bound, 0, with(func(u *jwt.Use) { u.Method = "" }), jwt.ErrOneTimeBinding, "method"},
		{"wrong path", bound, 0, with(func(u *jwt.Use) { u.Path = "/v1/checkout/cancel" }), jwt.ErrOneTimeBinding, "path"},
		{"path with trailing slash", bound, 0, with(func(u *jwt.Use) { u.Path += "/" }), jwt.ErrOneTimeBinding, "path"},
		{"wrong entity", bound, 0, with(func(u *jwt.Use) { u.EntityID = "order_43" }), jwt.ErrOneTimeBinding, "entity"},
		{"no entity", bound, 0, with(func(u *jwt.Use) { u.EntityID = "" }), jwt.ErrOneTimeBinding, "entity"},
		{"tampered body", bound, 0, with(func(u *jwt.Use) { u.Body[len(u.Body)-2] = '0' }), jwt.ErrOneTimeBinding, "body"},
		{"no body", bound, 0, with(func(u *jwt.Use) { u.Body = nil }), jwt.ErrOneTimeBinding, "body"},
		{"bound to the empty body, none sent", emptyBody, 0, jwt.Use{Purpose: purpose}, nil, ""},
		{"bound to the empty body, one sent", emptyBody, 0, jwt.Use{Purpose: purpose, Body: []byte("{}")}, jwt.ErrOneTimeBinding, "body"},
		{"expiry is checked before the purpose", bound, time.Minute, jwt.Use{Purpose: "other"}, jwt.ErrOneTimeExpired, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newOneTimeEnv(t)
			ctx := context.Background()
			issuedAt := e.clock.Now()
			tok, _, err := e.ot.Issue(ctx, tt.params)
			require.NoError(t, err)
			e.clock.Advance(tt.advance)
			rec, err := e.ot.Redeem(ctx, tok, tt.use)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.params.Purpose, rec.Purpose)
				assert.Equal(t, "acct_1", rec.Account)
				assert.Equal(t, "key0000000000001", rec.KeyID)
				assert.Equal(t, "acct_1", rec.Subject)
				assert.Equal(t, keygate.ModeLive, rec.Mode)
				assert.Equal(t, issuedAt, rec.IssuedAt)
				assert.Equal(t, issuedAt.Add(time.Minute), rec.ExpiresAt)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorIs(t, err, jwt.ErrOneTimeInvalid)
				assert.Zero(t, rec)
				msg := err.Error()
				assert.Contains(t, msg, tt.binding)
				for _, v := range []string{tok[len(jwt.OneTimeTokenPrefix):], "/v1/checkout", "order_4", `"amount"`} {
					assert.NotContains(t, msg, v, "the error names the binding, never a value")
				}
			}
			// Whatever happened, the token is spent: the right request
			// cannot use it any more.
			e.clock.Advance(-tt.advance)
			_, err = e.ot.Redeem(ctx, tok, match)
			require.ErrorIs(t, err, jwt.ErrOneTimeInvalid)
			for _, s := range []error{jwt.ErrOneTimeExpired, jwt.ErrOneTimePurpose, jwt.ErrOneTimeBinding} {
				assert.NotErrorIs(t, err, s)
			}
		})
	}
}

func TestOneTimeMalformed(t *testing.T) {
	e := newOneTimeEnv(t)
	good, _, err := e.ot.Issue(context.Background(), baseParams)
	require.NoError(t, err)
	refresh := jwt.RefreshTokenPrefix + good[len(jwt.OneTimeTokenPrefix):]
	for name, tok := range map[string]string{
		"empty":           "",
		"prefix only":     jwt.OneTimeTokenPrefix,
		"refresh prefix":  refresh,
		"one char short":  good[:len(good)-1],
		"one char long":   good + "A",
		"padding":         good[:len(good)-1] + "=",
		"standard base64": good[:len(good)-1] + "+",
		"unicode":         good[:len(good)-2] + "é",
		"10 KB":           jwt.OneTimeTokenPrefix + strings.Repeat("A", 10<<10),
		"an access token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
	} {
		t.Run(name, func(t *testing.T) {
			before := e.store.calls.Load()
			_, err := e.ot.Redeem(context.Background(), tok, jwt.Use{Purpose: purpose})
			require.ErrorIs(t, err, jwt.ErrOneTimeInvalid)
			assert.Equal(t, before, e.store.calls.Load(), "a malformed token never reaches the store")
		})
	}
	t.Run("unknown", func(t *testing.T) {
		_, err := e.ot.Redeem(context.Background(), jwt.OneTimeTokenPrefix+strings.Repeat("A", 43), jwt.Use{Purpose: purpose})
		require.ErrorIs(t, err, jwt.ErrOneTimeInvalid)
	})
	// The good token was never touched.
	_, err = e.ot.Redeem(context.Background(), good, jwt.Use{Purpose: purpose})
	require.NoError(t, err)
}

// TestOpaqueTokensDoNotCross presents each kind of opaque token where the
// other is expected.
func TestOpaqueTokensDoNotCross(t *testing.T) {
	ctx := context.Background()
	oe, re := newOneTimeEnv(t), newRefreshEnv(t)
	oneTime, _, err := oe.ot.Issue(ctx, baseParams)
	require.NoError(t, err)
	refresh, _ := re.issue(t)

	_, _, err = re.rt.Rotate(ctx, oneTime, clientA)
	require.ErrorIs(t, err, jwt.ErrRefreshInvalid)
	_, err = oe.ot.Redeem(ctx, refresh, jwt.Use{Purpose: purpose})
	require.ErrorIs(t, err, jwt.ErrOneTimeInvalid)
	// Both still work where they belong.
	_, err = oe.ot.Redeem(ctx, oneTime, jwt.Use{Purpose: purpose})
	require.NoError(t, err)
	re.rotate(t, refresh)
}

// TestOneTimeConcurrentRedeem presents one token in 200 requests at once:
// exactly one is served.
func TestOneTimeConcurrentRedeem(t *testing.T) {
	const n = 200
	e := newOneTimeEnv(t)
	tok, _, err := e.ot.Issue(context.Background(), baseParams)
	require.NoError(t, err)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := e.ot.Redeem(context.Background(), tok, jwt.Use{Purpose: purpose})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, jwt.ErrOneTimeInvalid):
				refused.Add(1)
			default:
				t.Errorf("Redeem: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, 1, ok.Load())
	assert.EqualValues(t, n-1, refused.Load())
}

func TestOneTimeStoreFailure(t *testing.T) {
	e := newOneTimeEnv(t)
	ctx := context.Background()
	tok, _, err := e.ot.Issue(ctx, baseParams)
	require.NoError(t, err)
	boom := errors.New("store down")
	e.store.err = boom
	_, err = e.ot.Redeem(ctx, tok, jwt.Use{Purpose: purpose})
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, jwt.ErrOneTimeInvalid, "a store failure is not the client's fault")
	_, _, err = e.ot.Issue(ctx, baseParams)
	require.ErrorIs(t, err, boom)

	e.store.err = nil
	_, err = e.ot.Redeem(ctx, tok, jwt.Use{Purpose: purpose})
	require.NoError(t, err, "a failed store call consumed nothing")
}

func TestOneTimeCancelledContext(t *testing.T) {
	e := newOneTimeEnv(t)
	tok, _, err := e.ot.Issue(context.Background(), baseParams)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = e.ot.Issue(ctx, baseParams)
	require.ErrorIs(t, err, context.Canceled)
	_, err = e.ot.Redeem(ctx, tok, jwt.Use{Purpose: purpose})
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, jwt.ErrOneTimeInvalid)
	_, err = e.ot.Redeem(context.Background(), tok, jwt.Use{Purpose: purpose})
	require.NoError(t, err, "a cancelled Redeem consumed nothing")
}

// TestMemoryOneTimeStoreSweep checks that the memory store forgets records
// that expired before, by the caller's clock, the records it is given.
func TestMemoryOneTimeStoreSweep(t *testing.T) {
	ctx := context.Background()
	s := jwt.NewMemoryOneTimeStore()
	t0 := newClock().Now()
	expired := jwt.OneTimeRecord{Hash: sha256.Sum256([]byte("expired")), IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	live := jwt.OneTimeRecord{Hash: sha256.Sum256([]byte("live")), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	require.NoError(t, s.Put(ctx, expired, 0))
	require.NoError(t, s.Put(ctx, live, 0))
	later := t0.Add(2 * time.Minute)
	for i := 0; i < 1100; i++ {
		require.NoError(t, s.Put(ctx, jwt.OneTimeRecord{
			Hash: sha256.Sum256([]byte(fmt.Sprint("filler", i))), IssuedAt: later, ExpiresAt: later.Add(time.Minute),
		}, 0))
	}
	_, err := s.Consume(ctx, expired.Hash)
	require.ErrorIs(t, err, jwt.ErrNotFound, "an expired record is forgotten")
	_, err = s.Consume(ctx, live.Hash)
	require.NoError(t, err)
}

// BenchmarkMemoryOneTimeConsume stores and consumes one-time tokens in the
// in-memory store: the store's part of a redemption (compare the SQL and
// Redis stores' Consume benchmarks).
func BenchmarkMemoryOneTimeConsume(b *testing.B) {
	s := jwt.NewMemoryOneTimeStore()
	ctx := context.Background()
	now := time.Now()
	rec := jwt.OneTimeRecord{Purpose: "checkout:confirm", Account: "acct_1", KeyID: "k", Mode: keygate.ModeTest,
		IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		rec.Hash = sha256.Sum256([]byte(fmt.Sprint(i)))
		if err := s.Put(ctx, rec, 0); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Consume(ctx, rec.Hash); err != nil {
			b.Fatal(err)
		}
	}
}
