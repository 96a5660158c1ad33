package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keygate/keygate/account"
)

// accountStore is the [account.Store] of a DB.
type accountStore struct{ d *DB }

// Accounts returns the DB's [account.Store].
func (d *DB) Accounts() account.Store { return accountStore{d} }

var _ account.Store = accountStore{}

const accountColumns = "id, name, package, disabled, tokens_not_before, created, updated, version"

func scanAccount(sc scanner) (account.Account, error) {
	var a account.Account
	var notBefore, created, updated int64
	if err := sc.Scan(&a.ID, &a.Name, &a.Package, &a.Disabled, &notBefore, &created, &updated, &a.Version); err != nil {
		return account.Account{}, err
	}
	a.TokensNotBefore, a.Created, a.Updated = decTime(notBefore), decTime(created), decTime(updated)
	return a, nil
}

// Create implements [account.Store].
func (s accountStore) Create(ctx context.Context, a account.Account) (account.Account, error) {
	var ts times
	notBefore, created, updated := ts.enc(a.TokensNotBefore), ts.enc(a.Created), ts.enc(a.Updated)
	if ts.err != nil {
		return account.Account{}, fmt.Errorf("%w: %w", account.ErrInvalidParams, ts.err)
	}
	if err := ctx.Err(); err != nil {
		return account.Account{}, err
	}
	res, err := s.d.exec(ctx, "INSERT INTO accounts ("+accountColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING",
		a.ID, a.Name, a.Package, a.Disabled, notBefore, created, updated)
	if err != nil {
		return account.Account{}, s.d.fail(ctx, "create account", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return account.Account{}, s.d.fail(ctx, "create account", err)
	} else if n == 0 {
		return account.Account{}, fmt.Errorf("%w: %s", account.ErrExists, a.ID)
	}
	a.Version = 1
	a.TokensNotBefore, a.Created, a.Updated = decTime(notBefore), decTime(created), decTime(updated)
	return a, nil
}

// Get implements [account.Store].
func (s accountStore) Get(ctx context.Context, id string) (account.Account, error) {
	if err := ctx.Err(); err != nil {
		return account.Account{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT "+accountColumns+" FROM accounts WHERE id = ?", id)
	if err != nil {
		return account.Account{}, s.d.fail(ctx, "get account", err)
	}
	a, err := scanAccount(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return account.Account{}, fmt.Errorf("%w: %s", account.ErrNotFound, id)
	case err != nil:
		return account.Account{}, s.d.fail(ctx, "get account", err)
	}
	return a, nil
}

// Update implements [account.Store]: one UPDATE ... WHERE version = ?.
func (s accountStore) Update(ctx context.Context, a account.Account) (account.Account, error) {
	var ts times
	notBefore, created, updated := ts.enc(a.TokensNotBefore), ts.enc(a.Created), ts.enc(a.Updated)
	if ts.err != nil {
		return account.Account{}, fmt.Errorf("%w: %w", account.ErrInvalidParams, ts.err)
	}
	if err := ctx.Err(); err != nil {
		return account.Account{}, err
	}
	res, err := s.d.exec(ctx, "UPDATE accounts SET name = ?, package = ?, disabled = ?, tokens_not_before = ?, created = ?, updated = ?, version = version + 1 WHERE id = ? AND version = ?",
		a.Name, a.Package, a.Disabled, notBefore, created, updated, a.ID, a.Version)
	if err != nil {
		return account.Account{}, s.d.fail(ctx, "update account", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return account.Account{}, s.d.fail(ctx, "update account", err)
	}
	if n == 0 {
		if _, err := s.Get(ctx, a.ID); err != nil {
			return account.Account{}, err
		}
		return account.Account{}, fmt.Errorf("%w: %s", account.ErrConflict, a.ID)
	}
	a.Version++
	a.TokensNotBefore, a.Created, a.Updated = decTime(notBefore), decTime(created), decTime(updated)
	return a, nil
}

// List implements [account.Store].
func (s accountStore) List(ctx context.Context, f account.ListFilter) ([]account.Account, error) {
	q, args, err := listQuery("accounts", accountColumns, "id", listFilter{
		search: account.FoldSearch(f.Search), afterCreated: f.AfterCreated, afterID: f.AfterID, limit: f.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", account.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return collect(ctx, s.d, "list accounts", q, args, scanAccount)
}
