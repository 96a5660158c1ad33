package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/oauth"
)

// systemActor is the actor of the management events of what keygate
// creates on its own, at start-up: serve's demo data and "keygate init"'s
// admin key (also the key's created_by).
const systemActor = "system"

// bootstrapWait bounds how long a start waits for another instance that
// is creating the demo data in the same database.
const bootstrapWait = 30 * time.Second

// errBootstrapIncomplete reports demo data that another instance began to
// create and never finished.
var errBootstrapIncomplete = errors.New("the demo data is incomplete")

// bootstrap makes the demo data on the first start on an empty store and
// returns it with created true: the accounts acct_demo, acct_prime and
// acct_admin, their keys, an HMAC credential, the demo user (also the
// console owner of acct_demo) and the console's first operator. On a later
// start (or when another instance starting at once made the data) it
// creates nothing and returns created false: the keys are in the
// database, and were printed when it was created.
//
// Creating acct_demo is the lock: of several instances starting at once
// on an empty database, the one whose Create succeeds makes the rest of
// the data, and the others, whose Create fails with ErrExists, wait
// until acct_admin (made last) exists. A database that already holds
// accounts but not acct_demo (one that "keygate init" prepared, say) gets
// no demo data.
//
// What it creates is audited as management events of the actor "system".
func (a *app) bootstrap(ctx context.Context) (d demo, created bool, err error) {
	ctx = keygate.WithActor(ctx, systemActor)
	if a.store.db != nil {
		existing, err := a.accounts.List(ctx, account.ListFilter{Limit: 1})
		if err != nil {
			return demo{}, false, fmt.Errorf("%s: %w", a.store.name, err)
		}
		if len(existing) > 0 {
			if _, err := a.accounts.Get(ctx, demoAccount); errors.Is(err, account.ErrNotFound) {
				return demo{}, false, nil // not a database of serve's demo
			} else if err != nil {
				return demo{}, false, fmt.Errorf("%s: %w", a.store.name, err)
			}
			return demo{}, false, a.awaitBootstrap(ctx)
		}
	}
	switch _, err := a.accounts.Create(ctx, account.CreateParams{ID: demoAccount, Name: "Demo retailer", Package: "GO"}); {
	case errors.Is(err, account.ErrExists):
		// Another instance won the race: it makes the data.
		return demo{}, false, a.awaitBootstrap(ctx)
	case err != nil:
		return demo{}, false, err
	}
	if d, err = a.createDemo(ctx); err != nil {
		return demo{}, false, fmt.Errorf("creating the demo data: %w", err)
	}
	return d, true, nil
}

// createDemo makes the demo data after acct_demo, ending with acct_admin,
// which tells other instances that it is complete.
func (a *app) createDemo(ctx context.Context) (demo, error) {
	if err := a.createAccount(ctx, account.CreateParams{ID: primeAccount, Name: "Demo retailer on PRIME", Package: packagePrime}); err != nil {
		return demo{}, err
	}
	var d demo
	var err error
	// The demo key pair and HMAC credential share one grant.
	demoGrant := keygate.Grant{
		Account:     demoAccount,
		Mode:        keygate.ModeTest,
		Package:     "GO",
		Stores:      []string{"store_1", "store_2"},
		Permissions: demoPermissions,
	}
	d.publishable, d.secret, err = a.keys.CreatePair(ctx, apikey.CreateParams{Grant: demoGrant, Name: "demo"})
	if err != nil {
		return demo{}, err
	}
	if d.primeSecret, _, err = a.keys.Create(ctx, apikey.CreateParams{
		Grant: keygate.Grant{
			Account:     primeAccount,
			Mode:        keygate.ModeTest,
			Package:     packagePrime,
			Stores:      []string{"store_1"},
			Permissions: demoPermissions,
		},
		Kind: keygate.KindSecret,
		Name: "prime demo",
	}); err != nil {
		return demo{}, err
	}
	if d.hmacSecret, _, err = a.hmacs.Create(ctx, httpsig.CreateParams{Grant: demoGrant, Name: "demo"}); err != nil {
		return demo{}, err
	}
	d.user, d.password = "demo", rand.Text()
	if err := a.users.Add(ctx, d.user, d.password, oauth.User{Subject: "user_demo", Account: demoAccount}); err != nil {
		return demo{}, err
	}
	// The console: its first operator, and the demo user as the owner
	// of acct_demo, with the same password as for the password grant.
	d.operatorPassword = newOperatorPassword()
	if err := a.consoleUsers.Add(ctx, firstOperator(), d.operatorPassword); err != nil {
		return demo{}, err
	}
	if err := a.consoleUsers.Add(ctx, consolestore.User{Username: d.user, Role: consolestore.RoleOwner, Account: demoAccount}, d.password); err != nil {
		return demo{}, err
	}
	if d.admin, _, err = a.keys.Create(ctx, apikey.CreateParams{
		Grant: keygate.Grant{
			Account:     adminAccount,
			Mode:        keygate.ModeTest,
			Package:     adminPackage,
			Permissions: adminPermissions,
		}, Kind: keygate.KindSecret, Name: "admin (keygate serve)",
	}); err != nil {
		return demo{}, err
	}
	if err := a.createAccount(ctx, account.CreateParams{ID: adminAccount, Name: "keygate administrators", Package: adminPackage}); err != nil {
		return demo{}, err
	}
	return d, nil
}

// createAccount creates an account of the demo, which may exist already
// (acct_admin, when "keygate init" prepared the database).
func (a *app) createAccount(ctx context.Context, p account.CreateParams) error {
	if _, err := a.accounts.Create(ctx, p); err != nil && !errors.Is(err, account.ErrExists) {
		return err
	}
	return nil
}

// awaitBootstrap waits until the demo data is complete (acct_admin
// exists), for at most bootstrapWait.
func (a *app) awaitBootstrap(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, bootstrapWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := a.accounts.Get(ctx, adminAccount)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, account.ErrNotFound) && ctx.Err() == nil:
			return fmt.Errorf("%s: %w", a.store.name, err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w in %s: another instance is still creating it, or a first start stopped half-way; "+
					"if no other instance is starting, start on a new database", errBootstrapIncomplete, a.store.name)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}
