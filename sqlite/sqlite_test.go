package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/sqlite"
	"github.com/keygate/keygate/sqlstore"
	"github.com/keygate/keygate/sqlstore/sqlstoretest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTemp opens a new database in a temporary directory, closed when the
// test ends.
func openTemp(t testing.TB) *sqlstore.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keygate.db"))
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
	sqlstoretest.TestStores(t, func(t *testing.T) *sqlstore.DB { return openTemp(t) })
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	sqlstoretest.TestMigrations(t, func(ctx context.Context) (*sqlstore.DB, error) {
		return sqlite.Open(ctx, path)
	})
}

func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "restart.db")
	sqlstoretest.TestRestart(t, func(ctx context.Context) (*sqlstore.DB, error) {
		return sqlite.Open(ctx, path)
	})
}

// BenchmarkAPIKeyGet is the lookup of an API key verification, among 1,000
// and 100,000 stored keys.
func BenchmarkAPIKeyGet(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		db := openTemp(b)
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
	sqlstoretest.BenchmarkOneTimeConsume(b, openTemp(b))
}

// TestReadsBesideAWriter: while another process holds the file's write
// lock, reads go on (WAL), through the read-only connections.
func TestReadsBesideAWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rec := apikey.Record{ID: "locked0000000000", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive}, Kind: keygate.KindSecret,
		Status: apikey.StatusActive, Created: time.Now()}
	if _, err := db.APIKeys().Create(ctx, rec); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_busy_timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, "ROLLBACK") }()

	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for range 20 {
		if _, err := db.APIKeys().Get(rctx, rec.ID); err != nil {
			t.Fatalf("Get while another connection holds the write lock: %v", err)
		}
		if _, err := db.Denylist().IsRevoked(rctx, "jti", "sub", "", time.Now()); err != nil {
			t.Fatalf("IsRevoked while another connection holds the write lock: %v", err)
		}
	}
}

// TestPathNeedsEscaping opens files whose names hold the characters a
// file: URI gives a meaning to.
func TestPathNeedsEscaping(t *testing.T) {
	for _, name := range []string{"a?b.db", "a#b.db", "a%20b.db", "a b.db"} {
		path := filepath.Join(t.TempDir(), name)
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if matches, _ := filepath.Glob(path); len(matches) != 1 {
			t.Fatalf("%q: the database is not at %s", name, path)
		}
	}
}

// TestDenySweepBothTables: the denylist's one write counter sweeps both
// tables, so session revocations alone forget an expired token entry.
func TestDenySweepBothTables(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	dl := db.Denylist()
	past := time.Now().Add(-jwt.RevocationMargin - time.Hour)
	if err := dl.RevokeToken(ctx, "old-jti", past); err != nil {
		t.Fatal(err)
	}
	for i := range 1022 {
		if err := dl.RevokeSession(ctx, fmt.Sprintf("old-sid-%d", i), past); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := dl.IsRevoked(ctx, "old-jti", "sub", "old-sid-0", time.Now()); err != nil || !ok {
		t.Fatalf("before the 1024th write: IsRevoked = %v, %v; want true", ok, err)
	}
	if err := dl.RevokeSession(ctx, "live-sid", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, err := dl.IsRevoked(ctx, "old-jti", "sub", "old-sid-0", time.Now()); err != nil || ok {
		t.Fatalf("after the 1024th write: IsRevoked = %v, %v; want the expired entries swept", ok, err)
	}
	if ok, err := dl.IsRevoked(ctx, "x", "sub", "live-sid", time.Now()); err != nil || !ok {
		t.Fatalf("live session: IsRevoked = %v, %v; want true", ok, err)
	}
}

// auditBenchEvents is how many events BenchmarkAudit loads:
// KEYGATE_BENCH_AUDIT_EVENTS, or 1,000,000.
func auditBenchEvents(b *testing.B) int {
	s := os.Getenv("KEYGATE_BENCH_AUDIT_EVENTS")
	if s == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1000 {
		b.Fatalf("KEYGATE_BENCH_AUDIT_EVENTS=%q: want a number of at least 1000", s)
	}
	return n
}

// auditBenchEnd is the "now" of the benchmark's events: fixed, so that a
// kept database stays valid, and not on the hour.
var auditBenchEnd = time.Date(2026, 1, 2, 12, 17, 23, 0, time.UTC)

// BenchmarkAudit measures the audit reads of the admin console over
// KEYGATE_BENCH_AUDIT_EVENTS (default 1,000,000) events of 24 hours. The
// database is loaded on the first run (about a minute for a million
// events) and kept in the system's temporary directory for the next:
// delete keygate-bench-audit-*.db there to reclaim the space.
//
//	cd sqlite && GOWORK=off go test -run '^$' -bench BenchmarkAudit -benchtime 20x
func BenchmarkAudit(b *testing.B) {
	db, p := openAuditBench(b)
	sqlstoretest.BenchmarkAudit(b, db, p)
}
