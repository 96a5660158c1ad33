package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/sqlite"
)

// Keep API keys in a SQLite file: they survive a restart.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "keygate-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keygate.db")
	ctx := context.Background()

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		panic(err)
	}
	keys, err := apikey.NewManager(apikey.Config{Store: db.APIKeys()})
	if err != nil {
		panic(err)
	}
	key, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest}, Kind: keygate.KindSecret})
	if err != nil {
		panic(err)
	}
	db.Close()

	// Later, in another process:
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	keys, _ = apikey.NewManager(apikey.Config{Store: db.APIKeys()})
	rec, err := keys.Verify(ctx, key.Reveal())
	fmt.Println(rec.Account, err)
	// Output:
	// acct_42 <nil>
}

// One database holds the stores of every package: here the accounts, the
// API keys and the audit log, which records the management actions of both.
func Example_stores() {
	dir, err := os.MkdirTemp("", "keygate-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := keygate.WithActor(context.Background(), "admin@example.com")

	db, err := sqlite.Open(ctx, filepath.Join(dir, "keygate.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()

	log := audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{db.Audit()}})
	accounts, err := account.NewManager(account.Config{Store: db.Accounts(), OnChange: log.RecordChange})
	if err != nil {
		panic(err)
	}
	keys, err := apikey.NewManager(apikey.Config{Store: db.APIKeys(), OnChange: log.RecordChange})
	if err != nil {
		panic(err)
	}
	defer keys.Close(ctx) // before db.Close: writes the last-used times

	if _, err := accounts.Create(ctx, account.CreateParams{ID: "acct_42", Name: "Corner Shop"}); err != nil {
		panic(err)
	}
	if _, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest}, Kind: keygate.KindSecret}); err != nil {
		panic(err)
	}
	if err := log.Close(ctx); err != nil { // writes the queued events
		panic(err)
	}

	page, err := db.Audit().Query(ctx, audit.Query{Account: "acct_42"})
	if err != nil {
		panic(err)
	}
	for _, e := range page.Events { // newest first
		fmt.Println(e.Seq, e.Action, e.Account, e.Actor)
	}
	// Output:
	// 2 key.created acct_42 admin@example.com
	// 1 account.created acct_42 admin@example.com
}
