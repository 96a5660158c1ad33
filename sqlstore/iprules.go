package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keygate/keygate/iprule"
)

// ipRuleStore is the [iprule.Store] of a DB.
type ipRuleStore struct{ d *DB }

// IPRules returns the DB's [iprule.Store]: the service-wide and
// per-account IP rules, shared by every instance on the database. Create
// is one INSERT that a rule with the same ID, or with the same account,
// action and prefix, turns into [iprule.ErrExists]; Delete is one DELETE
// ... RETURNING.
func (d *DB) IPRules() iprule.Store { return ipRuleStore{d} }

var _ iprule.Store = ipRuleStore{}

const ipRuleColumns = "id, account, action, cidr, note, created, created_by"

func scanIPRule(sc scanner) (iprule.Rule, error) {
	var r iprule.Rule
	var created int64
	if err := sc.Scan(&r.ID, &r.Account, &r.Action, &r.CIDR, &r.Note, &created, &r.CreatedBy); err != nil {
		return iprule.Rule{}, err
	}
	r.Created = decTime(created)
	return r, nil
}

// Create implements [iprule.Store].
func (s ipRuleStore) Create(ctx context.Context, r iprule.Rule) (iprule.Rule, error) {
	created, err := encTime(r.Created)
	if err != nil {
		return iprule.Rule{}, fmt.Errorf("sqlstore: create IP rule: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return iprule.Rule{}, err
	}
	res, err := s.d.exec(ctx, "INSERT INTO ip_rules ("+ipRuleColumns+") VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		r.ID, r.Account, string(r.Action), r.CIDR, r.Note, created, r.CreatedBy)
	if err != nil {
		return iprule.Rule{}, s.d.fail(ctx, "create IP rule", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return iprule.Rule{}, s.d.fail(ctx, "create IP rule", err)
	} else if n == 0 {
		return iprule.Rule{}, fmt.Errorf("%w: %s", iprule.ErrExists, r.ID)
	}
	r.Created = decTime(created)
	return r, nil
}

// Get implements [iprule.Store].
func (s ipRuleStore) Get(ctx context.Context, id string) (iprule.Rule, error) {
	if err := ctx.Err(); err != nil {
		return iprule.Rule{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT "+ipRuleColumns+" FROM ip_rules WHERE id = ?", id)
	if err != nil {
		return iprule.Rule{}, s.d.fail(ctx, "get IP rule", err)
	}
	return s.one(ctx, "get IP rule", id, row)
}

// one scans the row of the rule id.
func (s ipRuleStore) one(ctx context.Context, op, id string, row *sql.Row) (iprule.Rule, error) {
	r, err := scanIPRule(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return iprule.Rule{}, fmt.Errorf("%w: %s", iprule.ErrNotFound, id)
	case err != nil:
		return iprule.Rule{}, s.d.fail(ctx, op, err)
	}
	return r, nil
}

// List implements [iprule.Store].
func (s ipRuleStore) List(ctx context.Context, f iprule.Filter) ([]iprule.Rule, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, args := "SELECT "+ipRuleColumns+" FROM ip_rules", []any(nil)
	switch {
	case f.ServiceWide:
		q += " WHERE account = ''"
	case f.Account != "":
		q, args = q+" WHERE account = ?", []any{f.Account}
	}
	return collect(ctx, s.d, "list IP rules", q+" ORDER BY created, id", args, scanIPRule)
}

// Delete implements [iprule.Store].
func (s ipRuleStore) Delete(ctx context.Context, id string) (iprule.Rule, error) {
	if err := ctx.Err(); err != nil {
		return iprule.Rule{}, err
	}
	row, err := s.d.queryRow(ctx, "DELETE FROM ip_rules WHERE id = ? RETURNING "+ipRuleColumns, id)
	if err != nil {
		return iprule.Rule{}, s.d.fail(ctx, "delete IP rule", err)
	}
	return s.one(ctx, "delete IP rule", id, row)
}
