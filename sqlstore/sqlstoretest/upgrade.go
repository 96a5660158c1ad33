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
	rec := apikey.Record{ID: "upgrade000000001", Account: "acct_upgrade", Mode: keygate.ModeTest, Kind: keygate.KindSecret,
		CreatedBy: "alice", PermissionsSetBy: "bob", Status: apikey.StatusActive, Hashes: []apikey.Hash{{Sum: [32]byte{1}}},
		Permissions: []string{"orders:read"}, Created: time.Unix(1, 0)}
	if _, err := db.APIKeys().Create(ctx, rec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, stmt := range []string{
		"ALTER TABLE api_keys DROP COLUMN permissions_set_by",
		"DELETE FROM schema_migrations WHERE name LIKE '%permissions_set_by'",
	} {
		if _, err := db.SQL().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	upgraded, err := open(ctx)
	if err != nil {
		t.Fatalf("Open after the downgrade: %v", err)
	}
	defer upgraded.Close()
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
	q := audit.SummaryQuery{Bucket: time.Hour, Account: "acct_upgrade"}
	want, err := mem.Summarize(ctx, q)
	if err != nil || len(want.Buckets) < 8 {
		t.Fatalf("memory Summarize: %d buckets, %v", len(want.Buckets), err)
	}
	check := func(what string, db *sqlstore.DB) {
		t.Helper()
		got, err := db.Audit().Summarize(ctx, q)
		if err != nil {
			t.Fatalf("%s: Summarize: %v", what, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Summarize = %+v\nwant %+v", what, got, want)
		}
	}
	check("written", db)
	for _, stmt := range []string{
		"DROP TABLE audit_rollup",
		"DELETE FROM schema_migrations WHERE name LIKE '%audit_rollup'",
	} {
		if _, err := db.SQL().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	upgraded, err := open(ctx)
	if err != nil {
		t.Fatalf("Open after the downgrade: %v", err)
	}
	defer upgraded.Close()
	check("back-filled", upgraded)
}
