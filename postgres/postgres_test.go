package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/jwt"

	"github.com/keygate/keygate/internal/servicetest"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/sqlstore"
	"github.com/keygate/keygate/sqlstore/sqlstoretest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// schemaDSN creates a schema of its own for the test, dropped when it
// ends, and returns the test database's DSN with that schema as the
// search_path: tests are independent, and -count=1 reruns start afresh.
func schemaDSN(t testing.TB) string {
	t.Helper()
	base := servicetest.PostgresURL(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("%s: %v", servicetest.PostgresEnv, err)
	}
	admin := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = admin.Close() })
	schema := "kgtest_" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("CREATE SCHEMA: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("DROP SCHEMA: %v", err)
		}
	})
	return withParam(t, base, "search_path", schema)
}

// withParam returns the URL dsn with the query parameter key set.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", servicetest.PostgresEnv, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// openSchema opens a DB on a new, empty schema, closed when the test ends.
func openSchema(t testing.TB) *sqlstore.DB {
	t.Helper()
	dsn := schemaDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStores(t *testing.T) {
	sqlstoretest.TestStores(t, func(t *testing.T) *sqlstore.DB { return openSchema(t) })
}

func TestMigrations(t *testing.T) {
	dsn := schemaDSN(t)
	sqlstoretest.TestMigrations(t, func(ctx context.Context) (*sqlstore.DB, error) {
		return postgres.Open(ctx, dsn)
	})
}

func TestRestart(t *testing.T) {
	dsn := schemaDSN(t)
	sqlstoretest.TestRestart(t, func(ctx context.Context) (*sqlstore.DB, error) {
		return postgres.Open(ctx, dsn)
	})
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// blackHole returns a loopback address that accepts connections and never
// answers on them: a database that hangs.
func blackHole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// TestOpenUnreachable: a database nobody answers for fails Open with an
// error that holds no password; one that hangs fails it at its context's
// deadline (nothing else could end the call).
func TestOpenUnreachable(t *testing.T) {
	dsnOf := func(host string) string { return "postgres://keygate:s3cret-pw@" + host + "/keygate?sslmode=disable" }
	for _, host := range []string{closedPort(t), "127.0.0.1:1"} {
		db, err := postgres.Open(t.Context(), dsnOf(host))
		if err == nil {
			_ = db.Close()
			t.Fatalf("Open(%s) succeeded", host)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("the error holds the password: %v", err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	db, err := postgres.Open(ctx, dsnOf(blackHole(t)))
	if err == nil {
		_ = db.Close()
		t.Fatal("Open of a database that never answers succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open of a database that never answers: %v, want the context's deadline", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error holds the password: %v", err)
	}

	if _, err := postgres.Open(context.Background(), "postgres://%zz"); err == nil || strings.Contains(err.Error(), "%zz") {
		t.Errorf("Open with a malformed DSN: %v", err)
	}
}

// proxy forwards TCP connections from a loopback port to target, and can
// cut every connection and refuse new ones (the database "goes away"),
// hold new ones unanswered (the database hangs), then forward them again on
// the same port.
type proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	l     net.Listener
	hang  bool // hold new connections without forwarding them
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newProxy(t testing.TB, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.l, p.addr = l, l.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.forward(c)
			}()
		}
	}()
}

// startHanging is start, except that connections are accepted and never
// answered until the next stop.
func (p *proxy) startHanging() {
	p.mu.Lock()
	p.hang = true
	p.mu.Unlock()
	p.start()
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	hang, stopped := p.hang, p.l == nil
	if hang && !stopped {
		p.conns[c] = true
	}
	p.mu.Unlock()
	if hang {
		if !stopped {
			_, _ = io.Copy(io.Discard, c) // until stop closes c
		}
		_ = c.Close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.l == nil { // stopped meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(c, s)
	go pipe(s, c)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// stop closes the listener and every connection, and waits for the
// forwarding goroutines. The next start forwards again.
func (p *proxy) stop() {
	p.mu.Lock()
	p.hang = false
	if p.l != nil {
		_ = p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestServerGoneAndBack: while the database is unreachable every store
// call fails (none succeeds, none hangs past its deadline); once it is
// back, calls succeed again on the same DB, without a restart.
func TestServerGoneAndBack(t *testing.T) {
	dsn := schemaDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	now := time.Now().UTC()
	key := apikey.Record{ID: "outage0000000000", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive}, Kind: keygate.KindSecret,
		Status: apikey.StatusActive, Created: now}
	if _, err := db.APIKeys().Create(ctx, key); err != nil {
		t.Fatal(err)
	}
	tok := jwt.OneTimeRecord{Hash: [32]byte{1}, Purpose: "p", Account: "acct_1", Mode: keygate.ModeLive, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.OneTimeTokens().Put(ctx, tok, 0); err != nil {
		t.Fatal(err)
	}

	calls := map[string]func(ctx context.Context) error{
		"APIKeys.Get":   func(ctx context.Context) error { _, err := db.APIKeys().Get(ctx, key.ID); return err },
		"APIKeys.Touch": func(ctx context.Context) error { return db.APIKeys().Touch(ctx, key.ID, now) },
		"Denylist.IsRevoked": func(ctx context.Context) error {
			_, err := db.Denylist().IsRevoked(ctx, "jti", "sub", "", now)
			return err
		},
		"OneTimeTokens.Consume": func(ctx context.Context) error { _, err := db.OneTimeTokens().Consume(ctx, tok.Hash); return err },
		"Audit.Write": func(ctx context.Context) error {
			return db.Audit().Write(ctx, []audit.Event{{Time: now, RequestID: "r"}})
		},
		"Idempotency.Reserve": func(ctx context.Context) error {
			_, _, err := db.Idempotency(sqlstore.IdempotencyConfig{}).Reserve(ctx, "k", []byte("fp"))
			return err
		},
	}

	// Refused: the connections in the pool are cut, new ones refused.
	p.stop()
	for name, call := range calls {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := call(cctx)
		cancel()
		if err == nil {
			t.Errorf("%s succeeded with the database unreachable", name)
		}
	}

	// Hanging: new connections are never answered, so only the call's
	// deadline can end it.
	p.startHanging()
	for name, call := range calls {
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := call(cctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with the database hanging: %v, want the context's deadline", name, err)
		}
	}
	p.stop()

	// Back: a call may first meet a connection the outage cut, which
	// fails it and leaves the pool; there are at most MaxConns of them,
	// so the calls after those succeed.
	p.start()
	for name, call := range calls {
		var err error
		for range postgres.MaxConns + 1 {
			if err = call(ctx); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("%s still fails once the database is back: %v", name, err)
		}
	}
	if _, err := db.OneTimeTokens().Consume(ctx, tok.Hash); !errors.Is(err, jwt.ErrNotFound) {
		t.Errorf("the token was consumed during the outage, or twice: %v", err)
	}
}

// BenchmarkAPIKeyGet is the lookup of an API key verification, among 1,000
// and 100,000 stored keys.
func BenchmarkAPIKeyGet(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		db := openSchema(b)
		ids := sqlstoretest.PopulateAPIKeys(b, db, n)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			sqlstoretest.BenchmarkAPIKeyGet(b, db, ids)
		})
		b.Run(fmt.Sprintf("keys=%d/parallel", n), func(b *testing.B) {
			sqlstoretest.BenchmarkAPIKeyGetParallel(b, db, ids)
		})
	}
}

func BenchmarkOneTimeConsume(b *testing.B) {
	sqlstoretest.BenchmarkOneTimeConsume(b, openSchema(b))
}

// TestOneTimeQuotaUnderRepeatableRead: the one-time quota holds when the
// server's default isolation is REPEATABLE READ: the count-then-insert
// runs READ COMMITTED, so the count, after the owner's advisory lock,
// sees the Puts committed while it waited for it.
func TestOneTimeQuotaUnderRepeatableRead(t *testing.T) {
	// Not withParam: pgx reads no "+" as a space in a URL's query.
	dsn := schemaDSN(t) + "&default_transaction_isolation=repeatable%20read"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := db.OneTimeTokens()
	now := time.Now()
	const racers = 16
	put := func(account string, max int) error {
		var h [32]byte
		_, _ = rand.Read(h[:])
		return store.Put(ctx, jwt.OneTimeRecord{Hash: h, Purpose: "checkout:confirm", Account: account, KeyID: "key_1",
			Mode: keygate.ModeTest, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, max)
	}
	race := func(account string, max int) []error {
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = put(account, max)
			}()
		}
		wg.Wait()
		return errs
	}
	// Open the pool's connections first, so that the racers overlap
	// rather than queue behind their dials.
	for _, err := range race("acct_warm", racers) {
		if err != nil {
			t.Fatal(err)
		}
	}
	errs := race("acct_1", 1)
	stored := 0
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case !errors.Is(err, jwt.ErrOneTimeQuota):
			t.Errorf("Put: %v; want nil or ErrOneTimeQuota", err)
		}
	}
	if stored != 1 {
		t.Fatalf("%d of %d concurrent Puts with max 1 stored; want exactly 1", stored, racers)
	}
}
