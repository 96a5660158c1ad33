package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
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
	key, _, err := keys.Create(ctx, apikey.CreateParams{Account: "acct_42", Mode: keygate.ModeTest, Kind: keygate.KindSecret})
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
