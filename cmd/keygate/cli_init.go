package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
)

// errNotEmpty is returned by initAdmin for a store that already holds
// accounts or keys.
var errNotEmpty = errors.New(`the store is not empty: init only creates the first admin key; create more with "keygate keys create" and an admin key`)

// cliInit is "keygate init": the first admin key and console operator, in
// an empty store.
func cliInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := runInit(ctx, args, stdout, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil // the help has been printed
	case err != nil && !errors.Is(err, errUsage):
		return fmt.Errorf("init: %w", err)
	}
	return err
}

// runInit does cliInit's work.
func runInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &cliCommand{
		name:     "init",
		synopsis: "init [--db memory | --db FILE | --db postgres://...] [--json]",
		about: `Creates the first admin key in an empty store, for deployments that do not
want the development bootstrap of "keygate serve": the account ` + adminAccount + ` and in
it (on the package ` + adminPackage + `) a test-mode secret key with ` + strings.Join(adminPermissions, ", ") + `:
every permission, since a caller of the admin API gives only what it holds.
It also creates the console's first operator, ` + consoleOperator + `, with every permission
and a random password. The key and the password are printed once; use the
key as --admin-key or $` + envAdminKey + ` to create the real keys ("keygate keys
create"), or sign in to the console at /console/, once "keygate serve --db"
runs on the same database, which then creates no demo data.
On a database that holds keys already but whose console has no user (one
from before the console), it creates only the console's first operator.

--db memory (the default) is a dry run: the store does not outlive the
command.`,
		fs:     flag.NewFlagSet("init", flag.ContinueOnError),
		stdout: stdout,
		stderr: stderr,
	}
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	db := dbMemory
	c.fs.StringVar(&db, "db", db, "the `store` to initialise: memory (a dry run), a SQLite file, or a postgres:// URL")
	c.fs.BoolVar(&c.jsonOut, "json", false, `print {"id","account","permissions","key","console_user","console_password"} as JSON`)
	if _, err := c.parse(args); err != nil {
		return err
	}
	if db == "" {
		return c.usageError("--db must not be empty")
	}
	accountCfg := account.Config{Packages: demoPackages.Names()}
	var keyCfg apikey.Config
	var consoleStore consolestore.UserStore = consolestore.NewMemoryUserStore()
	var events *audit.Writer // the database's audit history; none for a dry run
	where := ""
	if db != dbMemory {
		openCtx, cancel := context.WithTimeout(ctx, openTimeout)
		defer cancel()
		d, name, err := openDB(openCtx, db)
		if err != nil {
			return err
		}
		defer d.Close()
		accountCfg.Store, keyCfg.Store, consoleStore, where = d.Accounts(), d.APIKeys(), d.ConsoleUsers(), name
		// The account and the key start their audit history, as
		// management events of the actor "system".
		events = audit.NewWriter(audit.WriterConfig{Sinks: []audit.Sink{d.Audit()}})
		accountCfg.OnChange, keyCfg.OnChange = events.RecordChange, events.RecordChange
		defer closeEvents(events) // on an early return; a no-op after the Close below
	}
	accounts, err := account.NewManager(accountCfg)
	if err != nil {
		return err
	}
	keys, err := apikey.NewManager(keyCfg)
	if err != nil {
		return err
	}
	consoleUsers, err := console.NewUsers(console.UsersConfig{Store: consoleStore})
	if err != nil {
		return err
	}
	key, rec, err := initAdmin(ctx, accounts, keys)
	if errors.Is(err, errNotEmpty) {
		// A database from before the console may still get its first
		// operator.
		return initOperator(ctx, c, consoleUsers, where, stdout, stderr)
	}
	if err != nil {
		return err
	}
	// The console's first operator, once the store is known to have been
	// empty.
	operatorPassword := newOperatorPassword()
	if err := consoleUsers.Add(ctx, firstOperator(), operatorPassword); err != nil {
		return fmt.Errorf("the admin key was created, but not the console's first operator: %w", err)
	}
	var auditErr error
	if events != nil {
		// Written before the database closes. The key exists either way,
		// so it is printed even if its events could not be written.
		closeCtx, cancel := context.WithTimeout(ctx, openTimeout)
		if err := events.Close(closeCtx); err != nil {
			auditErr = fmt.Errorf("the admin key was created, but its audit events were not written: %w", err)
		}
		cancel()
	}
	if c.jsonOut {
		out, err := json.MarshalIndent(map[string]any{
			"id": rec.ID, "account": rec.Account, "mode": rec.Mode, "kind": rec.Kind,
			"permissions": rec.Permissions, "key": key.Reveal(),
			"console_user": consoleOperator, "console_password": operatorPassword,
		}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		if err := details(stdout,
			"account", rec.Account,
			"admin key id", rec.ID,
			"permissions", joinList(rec.Permissions),
		); err != nil {
			return err
		}
		// The only place init prints secrets.
		fmt.Fprintf(stdout, "admin key (shown once): %s\n", key.Reveal())
		fmt.Fprintf(stdout, "console user (shown once): %s / %s\n", consoleOperator, operatorPassword)
	}
	if where == "" {
		fmt.Fprintln(stderr, "keygate init: --db memory: the in-memory store does not outlive this command, so the key above works nowhere: this was a dry run. Give --db the database of \"keygate serve\" (a SQLite file or a postgres:// URL).")
	} else {
		fmt.Fprintf(stderr, "keygate init: the admin key is stored in %s; \"keygate serve\" on it creates no demo data\n", where)
	}
	return auditErr
}

// errHasOperators is returned by initOperator for a store whose console
// has users already.
var errHasOperators = fmt.Errorf("%w; its console has users already", errNotEmpty)

// initOperator is init on a store that holds accounts or keys already,
// such as the database of a "keygate serve" from before the console: if
// the console has no user yet, it creates the first operator (and
// nothing else) and prints it once; otherwise it refuses.
func initOperator(ctx context.Context, c *cliCommand, users *console.Users, where string, stdout, stderr io.Writer) error {
	existing, err := users.List(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return errHasOperators
	}
	password := newOperatorPassword()
	if err := users.Add(ctx, firstOperator(), password); err != nil {
		return err
	}
	if c.jsonOut {
		out, err := json.MarshalIndent(map[string]any{"console_user": consoleOperator, "console_password": password}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		// The only place this path prints a secret.
		fmt.Fprintf(stdout, "console user (shown once): %s / %s\n", consoleOperator, password)
	}
	fmt.Fprintf(stderr, "keygate init: %s already holds keys, so no admin key was made; its console had no user, and now has its first operator\n", where)
	return nil
}

// closeEvents flushes w for at most a second: the close of an early
// return, whose events (if any) matter less than the error being
// reported.
func closeEvents(w *audit.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = w.Close(ctx)
}

// initAdmin creates, in empty stores, the admin account and in it a
// test-mode secret key with every permission (adminPermissions on the
// package adminPackage), and returns the key.
// It refuses stores that already hold an account or a key.
func initAdmin(ctx context.Context, accounts *account.Manager, keys *apikey.Manager) (apikey.Key, apikey.Record, error) {
	ctx = keygate.WithActor(ctx, systemActor)
	existing, err := accounts.List(ctx, account.ListFilter{Limit: 1})
	if err != nil {
		return apikey.Key{}, apikey.Record{}, err
	}
	if len(existing) > 0 {
		return apikey.Key{}, apikey.Record{}, errNotEmpty
	}
	existingKeys, err := keys.List(ctx, apikey.ListFilter{Limit: 1})
	if err != nil {
		return apikey.Key{}, apikey.Record{}, err
	}
	if len(existingKeys) > 0 {
		return apikey.Key{}, apikey.Record{}, errNotEmpty
	}
	if _, err := accounts.Create(ctx, account.CreateParams{ID: adminAccount, Name: "admin", Package: adminPackage}); err != nil {
		return apikey.Key{}, apikey.Record{}, err
	}
	return keys.Create(ctx, apikey.CreateParams{
		Grant: keygate.Grant{
			Account:     adminAccount,
			Mode:        keygate.ModeTest,
			Package:     adminPackage,
			Permissions: adminPermissions,
		},
		Kind: keygate.KindSecret,
		Name: "admin (keygate init)",
	})
}
