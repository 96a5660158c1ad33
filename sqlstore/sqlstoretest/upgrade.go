package sqlstoretest

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
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
