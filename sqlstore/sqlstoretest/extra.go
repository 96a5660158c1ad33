package sqlstoretest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/idempotency"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/sqlstore"
)

// testEdges checks what the conformance suites leave to each backend: the
// range of storable times (also in the console's stores), empty lists, far-future denylist entries, and
// the lapse and retention of idempotency keys.
func testEdges(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("ConcurrentFirstUse", func(t *testing.T) {
		// Callers preparing one statement at once all get a working one.
		db := newDB(t)
		errs := make(chan error, 16)
		for range cap(errs) {
			go func() {
				_, err := db.APIKeys().Get(ctx, "key_missing")
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; !errors.Is(err, apikey.ErrNotFound) {
				t.Errorf("concurrent first Get: %v, want ErrNotFound", err)
			}
		}
	})

	t.Run("TimeRange", func(t *testing.T) {
		db := newDB(t)
		for _, at := range []time.Time{
			time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			a := account.Account{ID: "acct_far", Name: "far", Created: at, Updated: at}
			_, err := db.Accounts().Create(ctx, a)
			if !errors.Is(err, sqlstore.ErrTimeRange) || !errors.Is(err, account.ErrInvalidParams) {
				t.Errorf("Create with Created %v: %v, want ErrTimeRange and ErrInvalidParams", at, err)
			}
		}
		if _, err := db.Accounts().Get(ctx, "acct_far"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("a refused Create stored something: %v", err)
		}
		// The ends of the range and the zero time round-trip.
		for i, at := range []time.Time{
			time.Unix(0, -1<<63+1).UTC(), time.Unix(0, 1<<63-1).UTC(), {}, time.Unix(0, 0).UTC(), time.Unix(0, 1).UTC(),
		} {
			a := account.Account{ID: fmt.Sprintf("acct_edge%d", i), Name: "edge", Created: at, Updated: at}
			if _, err := db.Accounts().Create(ctx, a); err != nil {
				t.Fatalf("Create with Created %v: %v", at, err)
			}
			got, err := db.Accounts().Get(ctx, a.ID)
			if err != nil || !got.Created.Equal(at) || got.Created.IsZero() != at.IsZero() {
				t.Fatalf("Created %v came back as %v (%v)", at, got.Created, err)
			}
		}
		// Ordered: zero first, then by time.
		list, err := db.Accounts().List(ctx, account.ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, a := range list {
			order = append(order, a.ID)
		}
		if want := "[acct_edge2 acct_edge0 acct_edge3 acct_edge4 acct_edge1]"; fmt.Sprint(order) != want {
			t.Fatalf("List order %v, want %s", order, want)
		}
	})

	t.Run("ConsoleTimes", func(t *testing.T) {
		db := newDB(t)
		far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
		u := consolestore.UserRecord{User: consolestore.User{Username: "far", Role: consolestore.RoleOperator, Permissions: []string{"*:*"}, Created: far}}
		if err := db.ConsoleUsers().Put(ctx, u); !errors.Is(err, sqlstore.ErrTimeRange) {
			t.Fatalf("Put with Created %v: %v, want ErrTimeRange", far, err)
		}
		if _, err := db.ConsoleUsers().Get(ctx, "far"); !errors.Is(err, consolestore.ErrUnknownUser) {
			t.Fatalf("a refused Put stored something: %v", err)
		}
		sessions := db.ConsoleSessions()
		h := sha256.Sum256([]byte("far"))
		if err := sessions.Create(ctx, h[:], consolestore.Session{Username: "far", Created: far, LastSeen: far}); !errors.Is(err, sqlstore.ErrTimeRange) {
			t.Fatalf("Create with Created %v: %v, want ErrTimeRange", far, err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := sessions.Create(ctx, h[:], consolestore.Session{Username: "near", Created: now, LastSeen: now}); err != nil {
			t.Fatal(err)
		}
		if err := sessions.Touch(ctx, h[:], far); !errors.Is(err, sqlstore.ErrTimeRange) {
			t.Fatalf("Touch to %v: %v, want ErrTimeRange", far, err)
		}
		// Sweep cut-offs beyond the storable range are clamped to it.
		if n, err := sessions.DeleteExpired(ctx, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || n != 0 {
			t.Fatalf("DeleteExpired before every session = %d, %v; want 0", n, err)
		}
		if n, err := sessions.DeleteExpired(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}); err != nil || n != 1 {
			t.Fatalf("DeleteExpired after every session = %d, %v; want 1", n, err)
		}
	})

	t.Run("APIKeyWithoutLists", func(t *testing.T) {
		db := newDB(t)
		rec := apikey.Record{ID: "bare0000000000000", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Kind: keygate.KindSecret,
			Status: apikey.StatusActive, Created: time.Unix(100, 0).UTC()}
		if _, err := db.APIKeys().Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		got, err := db.APIKeys().Get(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Hashes != nil || got.Stores != nil || got.Permissions != nil || got.AllowedIPs != nil || got.Version != 1 {
			t.Fatalf("a record without lists came back as %+v", got)
		}
		rec.Stores, rec.Version = []string{}, 1
		upd, err := db.APIKeys().Update(ctx, rec)
		if err != nil || upd.Stores == nil || len(upd.Stores) != 0 {
			t.Fatalf("an empty list must stay empty, not nil: %#v, %v", upd.Stores, err)
		}
		if got, err := db.APIKeys().Get(ctx, rec.ID); err != nil || got.Stores == nil {
			t.Fatalf("an empty list must stay empty, not nil: %#v, %v", got.Stores, err)
		}
	})

	t.Run("DenylistFarFuture", func(t *testing.T) {
		db := newDB(t)
		// A JWT may expire as late as 9999: its denial must hold.
		far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
		if err := db.Denylist().RevokeToken(ctx, "jti-far", far); err != nil {
			t.Fatal(err)
		}
		if err := db.Denylist().RevokeSubject(ctx, "sub-far", far); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			jti, sub string
			iat      time.Time
		}{{"jti-far", "x", time.Now()}, {"y", "sub-far", time.Now()}} {
			if ok, err := db.Denylist().IsRevoked(ctx, c.jti, c.sub, "", c.iat); err != nil || !ok {
				t.Fatalf("IsRevoked(%q, %q): %v, %v; want revoked", c.jti, c.sub, ok, err)
			}
		}
	})

	t.Run("IdempotencyLapseAndRetention", func(t *testing.T) {
		db := newDB(t)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s := db.Idempotency(sqlstore.IdempotencyConfig{Retention: time.Hour, LockTimeout: time.Minute, Now: func() time.Time { return now }})
		fp := []byte("fingerprint")
		reserve := func(key string) (idempotency.Entry, bool) {
			t.Helper()
			e, ok, err := s.Reserve(ctx, key, fp)
			if err != nil {
				t.Fatal(err)
			}
			return e, ok
		}
		if _, ok := reserve("pending"); !ok {
			t.Fatal("fresh key not reserved")
		}
		if _, ok := reserve("done"); !ok {
			t.Fatal("fresh key not reserved")
		}
		if err := s.Complete(ctx, "done", 201, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		now = now.Add(59 * time.Second)
		if _, ok := reserve("pending"); ok {
			t.Fatal("a reservation lapsed before its lock timeout")
		}
		now = now.Add(time.Second)
		if _, ok := reserve("pending"); !ok {
			t.Fatal("a reservation did not lapse after its lock timeout")
		}
		if e, ok := reserve("done"); ok || !e.Done {
			t.Fatal("a completed entry lapsed like a pending one")
		}
		now = now.Add(time.Hour)
		if _, ok := reserve("done"); !ok {
			t.Fatal("a completed entry outlived its retention")
		}
	})
}

// TestRestart checks that what one DB wrote, another DB opened on the
// same database after it closed finds, and that audit sequence numbers go
// on from where they were, and that console users and sessions are
// shared by the instances on a database. open opens the same database on
// each call.
func TestRestart(t *testing.T, open func(ctx context.Context) (*sqlstore.DB, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	write := func(db *sqlstore.DB, ids ...string) {
		t.Helper()
		var batch []audit.Event
		for _, id := range ids {
			batch = append(batch, audit.Event{Time: at, RequestID: id, Decision: audit.Allow})
		}
		if err := db.Audit().Write(ctx, batch); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}

	first, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	write(first, "a", "b", "c")
	key := apikey.Record{ID: "restart000000000", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive}, Kind: keygate.KindSecret,
		Status: apikey.StatusActive, Hashes: []apikey.Hash{{Sum: sha256.Sum256([]byte("k"))}}, Created: at}
	if _, err := first.APIKeys().Create(ctx, key); err != nil {
		t.Fatal(err)
	}
	// A console user and session made through one instance serve the next.
	cheap := password.Params{Memory: 64, Time: 1, Threads: 1}
	users, err := console.NewUsers(console.UsersConfig{Store: first.ConsoleUsers(), Params: cheap})
	if err != nil {
		t.Fatal(err)
	}
	operator := consolestore.User{Username: "restart-operator", Role: consolestore.RoleOperator, Permissions: []string{"admin:read"}}
	if err := users.Add(ctx, operator, "restart password"); err != nil {
		t.Fatal(err)
	}
	sessions, err := console.NewSessions(console.SessionsConfig{Store: first.ConsoleSessions()})
	if err != nil {
		t.Fatal(err)
	}
	sessionID, _, err := sessions.Start(ctx, operator.Username)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.APIKeys().Get(ctx, key.ID); err == nil {
		t.Fatal("Get on a closed DB succeeded")
	}

	second, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	write(second, "d", "e")
	p, err := second.Audit().Query(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Events {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.RequestID))
	}
	if want := "[5:e 4:d 3:c 2:b 1:a]"; fmt.Sprint(got) != want {
		t.Fatalf("after a restart the history is %v, want %s", got, want)
	}
	if rec, err := second.APIKeys().Get(ctx, key.ID); err != nil || rec.Hashes[0].Sum != key.Hashes[0].Sum {
		t.Fatalf("the key did not survive the restart: %v", err)
	}
	users, err = console.NewUsers(console.UsersConfig{Store: second.ConsoleUsers(), Params: cheap})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := users.Authenticate(ctx, netip.Addr{}, operator.Username, "restart password"); err != nil || u.Role != consolestore.RoleOperator {
		t.Fatalf("the console user did not survive the restart: %+v, %v", u, err)
	}
	sessions, err = console.NewSessions(console.SessionsConfig{Store: second.ConsoleSessions()})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := sessions.Resume(ctx, sessionID); err != nil || s.Username != operator.Username {
		t.Fatalf("the console session did not survive the restart: %+v, %v", s, err)
	}
	if err := sessions.End(ctx, sessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Resume(ctx, sessionID); !errors.Is(err, consolestore.ErrNoSession) {
		t.Fatalf("an ended console session: %v, want ErrNoSession", err)
	}
}

// PopulateAPIKeys stores n API keys and returns their IDs, for
// [BenchmarkAPIKeyGet].
func PopulateAPIKeys(tb testing.TB, db *sqlstore.DB, n int) []string {
	tb.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	const workers = 8
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := w; i < n; i += workers {
				ids[i] = "bench" + rand.Text()[:11]
				rec := apikey.Record{ID: ids[i], Grant: keygate.Grant{
					Account:     "acct_bench",
					Mode:        keygate.ModeLive,
					Permissions: []string{"products:read", "offers:write"},
					Stores:      []string{"store_1"},
				}, Kind: keygate.KindSecret,
					Name: "bench", Status: apikey.StatusActive, Hashes: []apikey.Hash{{Sum: sha256.Sum256([]byte(ids[i]))}},
					Created: time.Now().UTC()}
				if _, err := db.APIKeys().Create(ctx, rec); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

// BenchmarkAPIKeyGet measures [apikey.Store.Get] by ID, the lookup of every
// API key verification, over the keys ids (see [PopulateAPIKeys]).
func BenchmarkAPIKeyGet(b *testing.B, db *sqlstore.DB, ids []string) {
	ctx := context.Background()
	s := db.APIKeys()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAPIKeyGetParallel is [BenchmarkAPIKeyGet] from GOMAXPROCS
// goroutines at once (-cpu sets how many).
func BenchmarkAPIKeyGetParallel(b *testing.B, db *sqlstore.DB, ids []string) {
	ctx := context.Background()
	s := db.APIKeys()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)) * 7919
		for pb.Next() {
			i++
			if _, err := s.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOneTimeConsume measures [jwt.OneTimeStore.Consume] of stored
// tokens (b.N of them, stored before the timer starts).
func BenchmarkOneTimeConsume(b *testing.B, db *sqlstore.DB) {
	ctx := context.Background()
	s := db.OneTimeTokens()
	now := time.Now().UTC()
	hashes := make([][32]byte, b.N)
	for i := range hashes {
		hashes[i] = sha256.Sum256([]byte(rand.Text()))
		rec := jwt.OneTimeRecord{Hash: hashes[i], Purpose: "checkout:confirm", Account: "acct_bench", Mode: keygate.ModeLive,
			Method: "POST", Path: "/v1/checkout", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.Put(ctx, rec, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Consume(ctx, hashes[i]); err != nil {
			b.Fatal(err)
		}
	}
}
