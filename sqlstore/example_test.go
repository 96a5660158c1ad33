package sqlstore_test

import (
	"context"
	"database/sql"
	"log"

	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/sqlstore"
)

// Open takes a database/sql database from any driver and migrates it.
// Packages github.com/keygate/keygate/sqlite and
// github.com/keygate/keygate/postgres do this for their drivers; this is
// what they do, for a program that opens its own *sql.DB (its driver
// imported, here a PostgreSQL one registered as "pgx").
func ExampleOpen() {
	ctx := context.Background()
	sqlDB, err := sql.Open("pgx", "postgres://keygate@localhost/keygate")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, sqlDB, sqlstore.Postgres)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	keys, err := apikey.NewManager(apikey.Config{Store: db.APIKeys()})
	if err != nil {
		log.Fatal(err)
	}
	_ = keys // Create, Verify, Rotate... as with any store.
}
