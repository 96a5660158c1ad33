// Package sqlstoretest runs keygate's conformance suites against a
// [sqlstore.DB], for the packages that open one on a real database
// (github.com/keygate/keygate/sqlite and github.com/keygate/keygate/postgres):
//
//	func TestStores(t *testing.T) {
//		sqlstoretest.TestStores(t, func(t *testing.T) *sqlstore.DB { return openEmpty(t) })
//	}
package sqlstoretest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/account/accounttest"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/apikey/apikeytest"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/audittest"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/console/consoletest"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/httpsig/httpsigtest"
	"github.com/keygate/keygate/idempotency"
	"github.com/keygate/keygate/idempotency/idempotencytest"
	"github.com/keygate/keygate/iprule"
	"github.com/keygate/keygate/iprule/ipruletest"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/jwt/jwttest"
	"github.com/keygate/keygate/passworduser"
	"github.com/keygate/keygate/passworduser/passwordusertest"
	"github.com/keygate/keygate/sqlstore"
)

// TestStores runs the conformance suite of every store of the DB, and
// checks what the suites leave to each backend (storable times, empty
// lists, idempotency lapses). newDB
// must return a DB on an empty database for each call, and close it when
// the test ends.
func TestStores(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	t.Run("Accounts", func(t *testing.T) {
		accounttest.TestStore(t, func(t *testing.T) account.Store { return newDB(t).Accounts() })
	})
	t.Run("APIKeys", func(t *testing.T) {
		apikeytest.TestStore(t, func(t *testing.T) apikey.Store { return newDB(t).APIKeys() })
	})
	t.Run("HMACCredentials", func(t *testing.T) {
		httpsigtest.TestCredentialStore(t, func(t *testing.T) httpsig.CredentialStore { return newDB(t).HMACCredentials() })
	})
	t.Run("RefreshTokens", func(t *testing.T) {
		jwttest.TestRefreshStore(t, func(t *testing.T) jwt.RefreshStore { return newDB(t).RefreshTokens() })
	})
	t.Run("Denylist", func(t *testing.T) {
		jwttest.TestDenylist(t, func(t *testing.T) jwt.Denylist { return newDB(t).Denylist() })
	})
	t.Run("OneTimeTokens", func(t *testing.T) {
		jwttest.TestOneTimeStore(t, func(t *testing.T) jwt.OneTimeStore { return newDB(t).OneTimeTokens() })
	})
	t.Run("SigningKeys", func(t *testing.T) {
		jwttest.TestKeyStore(t, func(t *testing.T) jwt.KeyStore { return newDB(t).SigningKeys() })
	})
	t.Run("Users", func(t *testing.T) {
		passwordusertest.TestStore(t, func(t *testing.T) passworduser.Store { return newDB(t).Users() })
	})
	t.Run("ConsoleUsers", func(t *testing.T) {
		consoletest.TestUserStore(t, func(t *testing.T) consolestore.UserStore { return newDB(t).ConsoleUsers() })
	})
	t.Run("ConsoleSessions", func(t *testing.T) {
		consoletest.TestSessionStore(t, func(t *testing.T) consolestore.SessionStore { return newDB(t).ConsoleSessions() })
	})
	t.Run("AuditSink", func(t *testing.T) {
		audittest.TestSink(t, func(t *testing.T) audit.Sink { return newDB(t).Audit() })
	})
	t.Run("AuditHistory", func(t *testing.T) {
		audittest.TestHistory(t, func(t *testing.T) audittest.HistorySink { return newDB(t).Audit() })
	})
	t.Run("AuditSummarizer", func(t *testing.T) {
		audittest.TestSummarizer(t, func(t *testing.T) audittest.SummarySink { return newDB(t).Audit() })
	})
	t.Run("Idempotency", func(t *testing.T) {
		idempotencytest.TestStore(t, func(t *testing.T) idempotency.Store {
			return newDB(t).Idempotency(sqlstore.IdempotencyConfig{})
		})
	})
	t.Run("IPRules", func(t *testing.T) {
		ipruletest.TestStore(t, func(t *testing.T) iprule.Store { return newDB(t).IPRules() })
	})
	t.Run("Edges", func(t *testing.T) { testEdges(t, newDB) })
}

// TestMigrations checks that opening one database again finds nothing
// left to migrate, and that several processes opening it at once all
// succeed. open opens the same database on each call; the caller closes
// nothing.
func TestMigrations(t *testing.T, open func(ctx context.Context) (*sqlstore.DB, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var dbs []*sqlstore.DB
	defer func() {
		for _, db := range dbs {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	}()

	// Concurrent first opens: every one must succeed, and migrate once.
	const racers = 4
	results := make([]*sqlstore.DB, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = open(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("concurrent Open %d: %v", i, errs[i])
		}
		dbs = append(dbs, results[i])
	}

	// Applied twice: the second open changes nothing, and the data
	// written through the first is there.
	first := dbs[0]
	v1, err := first.SchemaVersion(ctx)
	if err != nil || v1 < 1 {
		t.Fatalf("SchemaVersion: %d, %v", v1, err)
	}
	a := account.Account{ID: "acct_migrations", Name: "kept", Created: time.Unix(1, 0), Updated: time.Unix(2, 0)}
	if _, err := first.Accounts().Create(ctx, a); err != nil {
		t.Fatalf("Create: %v", err)
	}
	again, err := open(ctx)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	dbs = append(dbs, again)
	if v2, err := again.SchemaVersion(ctx); err != nil || v2 != v1 {
		t.Fatalf("SchemaVersion after a second Open: %d, %v; want %d", v2, err, v1)
	}
	got, err := again.Accounts().Get(ctx, a.ID)
	if err != nil || got.Name != "kept" {
		t.Fatalf("the second Open lost data: %+v, %v", got, err)
	}
	// Each racer sees the others' writes: one database, not several.
	for i, db := range dbs {
		if _, err := db.Accounts().Get(ctx, a.ID); err != nil {
			t.Fatalf("DB %d: %v", i, err)
		}
	}
	if _, err := again.Accounts().Create(ctx, a); !errors.Is(err, account.ErrExists) {
		t.Fatalf("Create through another DB on the same database: %v, want ErrExists", err)
	}
	testPermissionsSetByUpgrade(t, ctx, again, open)
	testAuditRollupUpgrade(t, ctx, again, open)
}
