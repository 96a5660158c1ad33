package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// apiKeyStore is the [apikey.Store] of a DB.
type apiKeyStore struct{ d *DB }

// APIKeys returns the DB's [apikey.Store]. Get is one primary-key lookup
// through a prepared statement: the lookup of every verification.
func (d *DB) APIKeys() apikey.Store { return apiKeyStore{d} }

var _ apikey.Store = apiKeyStore{}

const apiKeyColumns = "id, account, mode, kind, name, created_by, hint, status, disabled, hashes, " +
	"stores, package, permissions, allowed_ips, denied_ips, allowed_countries, denied_countries, " +
	"created, expires, last_used, approved_by, approved_at, revoked_at, rotated_at, permissions_set_by, tokens_not_before, version"

// hashLen is the stored size of one apikey.Hash: its sum and NotAfter.
const hashLen = 32 + 8

// encHashes packs hashes as hashLen bytes each.
func encHashes(hs []apikey.Hash) ([]byte, error) {
	b := make([]byte, 0, len(hs)*hashLen)
	for _, h := range hs {
		n, err := encTime(h.NotAfter)
		if err != nil {
			return nil, err
		}
		b = append(b, h.Sum[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b, nil
}

// decHashes unpacks what encHashes packed; no hash is nil.
func decHashes(b []byte) ([]apikey.Hash, error) {
	if len(b)%hashLen != 0 {
		return nil, errors.New("sqlstore: corrupt hashes column")
	}
	if len(b) == 0 {
		return nil, nil
	}
	hs := make([]apikey.Hash, len(b)/hashLen)
	for i := range hs {
		c := b[i*hashLen:]
		copy(hs[i].Sum[:], c[:32])
		hs[i].NotAfter = decTime(int64(binary.BigEndian.Uint64(c[32:hashLen])))
	}
	return hs, nil
}

// apiKeyArgs returns the values of apiKeyColumns for rec, version aside,
// in their stored forms.
func apiKeyArgs(rec *apikey.Record) ([]any, error) {
	hashes, err := encHashes(rec.Hashes)
	if err != nil {
		return nil, err
	}
	var ts times
	args := []any{
		rec.ID, rec.Account, string(rec.Mode), string(rec.Kind), rec.Name, rec.CreatedBy, rec.Hint,
		string(rec.Status), rec.Disabled, hashes,
		encList(rec.Stores), rec.Package, encList(rec.Permissions), encList(rec.AllowedIPs),
		encList(rec.DeniedIPs), encList(rec.AllowedCountries), encList(rec.DeniedCountries),
		ts.enc(rec.Created), ts.enc(rec.Expires), ts.enc(rec.LastUsed), rec.ApprovedBy,
		ts.enc(rec.ApprovedAt), ts.enc(rec.RevokedAt), ts.enc(rec.RotatedAt), rec.PermissionsSetBy, ts.enc(rec.TokensNotBefore),
	}
	return args, ts.err
}

func scanAPIKey(sc scanner) (apikey.Record, error) {
	var (
		r                                                   apikey.Record
		mode, kind, status                                  string
		hashes                                              []byte
		stores, perms, allowIPs, denyIPs, allowCC, denyCC   string
		created, expires, lastUsed, approved, revoked, rotd int64
		notBefore                                           int64
	)
	err := sc.Scan(&r.ID, &r.Account, &mode, &kind, &r.Name, &r.CreatedBy, &r.Hint, &status, &r.Disabled, &hashes,
		&stores, &r.Package, &perms, &allowIPs, &denyIPs, &allowCC, &denyCC,
		&created, &expires, &lastUsed, &r.ApprovedBy, &approved, &revoked, &rotd, &r.PermissionsSetBy, &notBefore, &r.Version)
	if err != nil {
		return apikey.Record{}, err
	}
	r.Mode, r.Kind, r.Status = keygate.Mode(mode), keygate.Kind(kind), apikey.Status(status)
	if r.Hashes, err = decHashes(hashes); err != nil {
		return apikey.Record{}, err
	}
	var ld listDecoder
	ld.dec(stores, &r.Stores)
	ld.dec(perms, &r.Permissions)
	ld.dec(allowIPs, &r.AllowedIPs)
	ld.dec(denyIPs, &r.DeniedIPs)
	ld.dec(allowCC, &r.AllowedCountries)
	ld.dec(denyCC, &r.DeniedCountries)
	if ld.err != nil {
		return apikey.Record{}, ld.err
	}
	r.Created, r.Expires, r.LastUsed = decTime(created), decTime(expires), decTime(lastUsed)
	r.ApprovedAt, r.RevokedAt, r.RotatedAt = decTime(approved), decTime(revoked), decTime(rotd)
	r.TokensNotBefore = decTime(notBefore)
	return r, nil
}

// Create implements [apikey.Store].
func (s apiKeyStore) Create(ctx context.Context, rec apikey.Record) (apikey.Record, error) {
	args, err := apiKeyArgs(&rec)
	if err != nil {
		return apikey.Record{}, fmt.Errorf("%w: %w", apikey.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return apikey.Record{}, err
	}
	res, err := s.d.exec(ctx, "INSERT INTO api_keys ("+apiKeyColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING", args...)
	if err != nil {
		return apikey.Record{}, s.d.fail(ctx, "create API key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return apikey.Record{}, s.d.fail(ctx, "create API key", err)
	} else if n == 0 {
		return apikey.Record{}, fmt.Errorf("%w: %s", apikey.ErrExists, rec.ID)
	}
	// What is stored, read back from the arguments: a copy that shares
	// nothing with rec.
	return scanAPIKey(argScanner(append(args, int64(1))))
}

// lastUsedArg is the index of last_used in apiKeyColumns.
const lastUsedArg = 19

// Get implements [apikey.Store].
func (s apiKeyStore) Get(ctx context.Context, id string) (apikey.Record, error) {
	if err := ctx.Err(); err != nil {
		return apikey.Record{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE id = ?", id)
	if err != nil {
		return apikey.Record{}, s.d.fail(ctx, "get API key", err)
	}
	r, err := scanAPIKey(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return apikey.Record{}, fmt.Errorf("%w: %s", apikey.ErrNotFound, id)
	case err != nil:
		return apikey.Record{}, s.d.fail(ctx, "get API key", err)
	}
	return r, nil
}

// List implements [apikey.Store].
func (s apiKeyStore) List(ctx context.Context, f apikey.ListFilter) ([]apikey.Record, error) {
	q, args, err := listQuery("api_keys", apiKeyColumns, "id", listFilter{
		account: f.Account, mode: string(f.Mode), status: string(f.Status), kind: string(f.Kind),
		expiresBefore: f.ExpiresBefore, afterCreated: f.AfterCreated, afterID: f.AfterID, limit: f.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", apikey.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return collect(ctx, s.d, "list API keys", q, args, scanAPIKey)
}

// Update implements [apikey.Store]: one UPDATE ... WHERE version = ?
// RETURNING last_used, which it never writes.
func (s apiKeyStore) Update(ctx context.Context, rec apikey.Record) (apikey.Record, error) {
	args, err := apiKeyArgs(&rec)
	if err != nil {
		return apikey.Record{}, fmt.Errorf("%w: %w", apikey.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return apikey.Record{}, err
	}
	// Every column but id and last_used.
	set := append(append(append([]any(nil), args[1:lastUsedArg]...), args[lastUsedArg+1:]...), rec.ID, rec.Version)
	row, err := s.d.queryRow(ctx, `UPDATE api_keys SET account = ?, mode = ?, kind = ?, name = ?, created_by = ?, hint = ?,
	status = ?, disabled = ?, hashes = ?, stores = ?, package = ?, permissions = ?, allowed_ips = ?, denied_ips = ?,
	allowed_countries = ?, denied_countries = ?, created = ?, expires = ?, approved_by = ?, approved_at = ?,
	revoked_at = ?, rotated_at = ?, permissions_set_by = ?, tokens_not_before = ?, version = version + 1
WHERE id = ? AND version = ? RETURNING last_used`, set...)
	if err != nil {
		return apikey.Record{}, s.d.fail(ctx, "update API key", err)
	}
	var lastUsed int64
	switch err := row.Scan(&lastUsed); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := s.Get(ctx, rec.ID); err != nil {
			return apikey.Record{}, err
		}
		return apikey.Record{}, fmt.Errorf("%w: %s", apikey.ErrConflict, rec.ID)
	case err != nil:
		return apikey.Record{}, s.d.fail(ctx, "update API key", err)
	}
	args[lastUsedArg] = lastUsed
	return scanAPIKey(argScanner(append(args, rec.Version+1)))
}

// Touch implements [apikey.Store]: one UPDATE that only moves last_used
// forward, atomic with Update.
func (s apiKeyStore) Touch(ctx context.Context, id string, t time.Time) error {
	at, err := encTime(t)
	if err != nil {
		return fmt.Errorf("%w: %w", apikey.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	res, err := s.d.exec(ctx, "UPDATE api_keys SET last_used = ? WHERE id = ? AND last_used < ?", at, id, at)
	if err != nil {
		return s.d.fail(ctx, "touch API key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.d.fail(ctx, "touch API key", err)
	} else if n == 0 {
		// Nothing moved: an earlier time, or no such key.
		row, err := s.d.readRow(ctx, "SELECT 1 FROM api_keys WHERE id = ?", id)
		if err != nil {
			return s.d.fail(ctx, "touch API key", err)
		}
		var one int
		switch err := row.Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: %s", apikey.ErrNotFound, id)
		case err != nil:
			return s.d.fail(ctx, "touch API key", err)
		}
	}
	return nil
}
