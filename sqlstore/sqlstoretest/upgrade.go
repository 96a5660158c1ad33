package sqlstoretest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/sqlstore"
)

// testPermissionsSetByUpgrade: on a database migrated before the
// permissions_set_by column existed, the migration gives every key its
// creator as who set its permissions. The older database is made by
// dropping the column and forgetting its migration.
func testPermissionsSetByUpgrade(t *testing.T, ctx context.Context, db *sqlstore.DB, open func(ctx context.Context) (*sqlstore.DB, error)) {
	t.Helper()
	rec := apikey.Record{ID: "upgrade000000001", Grant: keygate.Grant{Account: "acct_upgrade", Mode: keygate.ModeTest, Permissions: []string{"orders:read"}}, Kind: keygate.KindSecret,
		CreatedBy: "alice", PermissionsSetBy: "bob", Status: apikey.StatusActive, Hashes: []apikey.Hash{{Sum: [32]byte{1}}},
		Created: time.Unix(1, 0)}
	if _, err := db.APIKeys().Create(ctx, rec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	upgraded := downgrade(t, ctx, db, open,
		"ALTER TABLE api_keys DROP COLUMN permissions_set_by",
		"DELETE FROM schema_migrations WHERE name LIKE '%permissions_set_by'")
	got, err := upgraded.APIKeys().Get(ctx, rec.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.PermissionsSetBy != "alice" || got.CreatedBy != "alice" {
		t.Fatalf("after the migration: created by %q, permissions set by %q; want alice for both", got.CreatedBy, got.PermissionsSetBy)
	}
}

// testAuditRollupUpgrade: on a database migrated before audit_rollup
// existed, the migration counts the stored request events into it, by the
// same hours as the sink's writes (also before the Unix epoch, where
// integer division rounds the other way). The older database is made by
// dropping the table and forgetting its migration.
func testAuditRollupUpgrade(t *testing.T, ctx context.Context, db *sqlstore.DB, open func(ctx context.Context) (*sqlstore.DB, error)) {
	t.Helper()
	mem := audit.NewMemorySink(1000)
	var events []audit.Event
	start := time.Date(1969, 12, 31, 22, 10, 0, 0, time.UTC)
	for i := range 300 {
		e := audit.Event{Time: start.Add(time.Duration(i) * 47 * time.Second), KeyID: fmt.Sprintf("kid_up%d", i%3),
			Account: "acct_upgrade", Mode: []string{"live", "test"}[i%2], Decision: audit.Allow, Reason: "ok"}
		if i%4 == 0 {
			e.Decision, e.Reason = audit.Deny, fmt.Sprintf("reason_%d", i%3)
		}
		if i%25 == 0 {
			e.Action = "key.rotated"
		}
		events = append(events, e)
	}
	for _, sink := range []audit.Sink{db.Audit(), mem} {
		if err := sink.Write(ctx, events); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	// Summaries from each source (hours, minutes, events) and a query
	// over a time range (on the hours' sequence numbers).
	queries := []audit.SummaryQuery{
		{Bucket: time.Hour, Account: "acct_upgrade"},
		{Bucket: time.Minute, Since: start.Add(90 * time.Second), Until: start.Add(3*time.Hour + 30*time.Second)},
		{Bucket: time.Hour, Since: start.Add(30 * time.Minute), Until: start.Add(3 * time.Hour)},
		{Bucket: 10 * time.Minute, Since: start.Add(90 * time.Second), Until: start.Add(3*time.Hour + 30*time.Second), Account: "acct_upgrade"},
	}
	var want []audit.Summary
	for _, q := range queries {
		w, err := mem.Summarize(ctx, q)
		if err != nil || len(w.Buckets) < 4 {
			t.Fatalf("memory Summarize(%+v): %d buckets, %v", q, len(w.Buckets), err)
		}
		want = append(want, w)
	}
	hq := audit.Query{Since: start.Add(40 * time.Minute), Until: start.Add(2 * time.Hour), Limit: 1000}
	wantPage, err := mem.Query(ctx, hq)
	if err != nil || len(wantPage.Events) < 100 {
		t.Fatalf("memory Query: %d events, %v", len(wantPage.Events), err)
	}
	check := func(what string, db *sqlstore.DB) {
		t.Helper()
		for i, q := range queries {
			got, err := db.Audit().Summarize(ctx, q)
			if err != nil {
				t.Fatalf("%s: Summarize: %v", what, err)
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("%s: Summarize(%+v) = %+v\nwant %+v", what, q, got, want[i])
			}
		}
		page, err := db.Audit().Query(ctx, hq)
		if err != nil {
			t.Fatalf("%s: Query: %v", what, err)
		}
		var got, wantIDs []string
		for _, e := range page.Events {
			got = append(got, e.Time.String())
		}
		for _, e := range wantPage.Events {
			wantIDs = append(wantIDs, e.Time.String())
		}
		if !reflect.DeepEqual(got, wantIDs) {
			t.Fatalf("%s: Query(%+v) = %d events, want %d", what, hq, len(got), len(wantIDs))
		}
	}
	check("written", db)
	check("back-filled", downgrade(t, ctx, db, open,
		"DROP TABLE audit_rollup",
		"DROP TABLE audit_rollup_minute",
		"DROP TABLE audit_rollup_account_minute",
		"DROP TABLE audit_seq_hours",
		"DELETE FROM schema_migrations WHERE name LIKE '%audit_rollup'"))
}

// downgrade runs stmts on db, which undo a migration and forget it, and
// opens the database again, which migrates it anew; the DB it returns is
// closed when the test ends.
func downgrade(t *testing.T, ctx context.Context, db *sqlstore.DB, open func(ctx context.Context) (*sqlstore.DB, error), stmts ...string) *sqlstore.DB {
	t.Helper()
	for _, stmt := range stmts {
		if _, err := db.SQL().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	upgraded, err := open(ctx)
	if err != nil {
		t.Fatalf("Open after the downgrade: %v", err)
	}
	t.Cleanup(func() { _ = upgraded.Close() })
	return upgraded
}
