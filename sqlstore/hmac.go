package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// credentialStore is the [httpsig.CredentialStore] of a DB.
type credentialStore struct{ d *DB }

// HMACCredentials returns the DB's [httpsig.CredentialStore]. The secrets it
// stores are sealed by package httpsig before they reach it; it stores them
// as given.
func (d *DB) HMACCredentials() httpsig.CredentialStore { return credentialStore{d} }

var _ httpsig.CredentialStore = credentialStore{}

const credentialColumns = "key_id, account, mode, name, package, permissions, stores, allowed_ips, denied_ips, " +
	"allowed_countries, denied_countries, secrets, status, disabled, created, expires, revoked_at, rotated_at, tokens_not_before, version"

// storedSecret is the JSON form of one httpsig.StoredSecret.
type storedSecret struct {
	Sealed   []byte `json:"sealed"`
	NotAfter int64  `json:"not_after"`
}

func encSecrets(ss []httpsig.StoredSecret) (string, error) {
	if ss == nil {
		return "null", nil
	}
	out := make([]storedSecret, len(ss))
	for i, s := range ss {
		n, err := encTime(s.NotAfter)
		if err != nil {
			return "", err
		}
		out[i] = storedSecret{Sealed: s.Sealed, NotAfter: n}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decSecrets(src string) ([]httpsig.StoredSecret, error) {
	var in []storedSecret
	if err := json.Unmarshal([]byte(src), &in); err != nil {
		return nil, errors.New("sqlstore: corrupt secrets column")
	}
	if in == nil {
		return nil, nil
	}
	out := make([]httpsig.StoredSecret, len(in))
	for i, s := range in {
		out[i] = httpsig.StoredSecret{Sealed: s.Sealed, NotAfter: decTime(s.NotAfter)}
	}
	return out, nil
}

// credentialArgs returns the values of credentialColumns for c, version
// aside, in their stored forms.
func credentialArgs(c *httpsig.Credential) ([]any, error) {
	secrets, err := encSecrets(c.Secrets)
	if err != nil {
		return nil, err
	}
	var ts times
	args := []any{
		c.KeyID, c.Account, string(c.Mode), c.Name, c.Package, encList(c.Permissions), encList(c.Stores),
		encList(c.AllowedIPs), encList(c.DeniedIPs), encList(c.AllowedCountries), encList(c.DeniedCountries),
		secrets, string(c.Status), c.Disabled,
		ts.enc(c.Created), ts.enc(c.Expires), ts.enc(c.RevokedAt), ts.enc(c.RotatedAt), ts.enc(c.TokensNotBefore),
	}
	return args, ts.err
}

func scanCredential(sc scanner) (httpsig.Credential, error) {
	var (
		c                                                 httpsig.Credential
		mode, status, secrets                             string
		perms, stores, allowIPs, denyIPs, allowCC, denyCC string
		created, expires, revoked, rotated, notBefore     int64
	)
	err := sc.Scan(&c.KeyID, &c.Account, &mode, &c.Name, &c.Package, &perms, &stores, &allowIPs, &denyIPs,
		&allowCC, &denyCC, &secrets, &status, &c.Disabled, &created, &expires, &revoked, &rotated, &notBefore, &c.Version)
	if err != nil {
		return httpsig.Credential{}, err
	}
	c.Mode, c.Status = keygate.Mode(mode), httpsig.Status(status)
	if c.Secrets, err = decSecrets(secrets); err != nil {
		return httpsig.Credential{}, err
	}
	var ld listDecoder
	ld.dec(perms, &c.Permissions)
	ld.dec(stores, &c.Stores)
	ld.dec(allowIPs, &c.AllowedIPs)
	ld.dec(denyIPs, &c.DeniedIPs)
	ld.dec(allowCC, &c.AllowedCountries)
	ld.dec(denyCC, &c.DeniedCountries)
	if ld.err != nil {
		return httpsig.Credential{}, ld.err
	}
	c.Created, c.Expires, c.RevokedAt, c.RotatedAt = decTime(created), decTime(expires), decTime(revoked), decTime(rotated)
	c.TokensNotBefore = decTime(notBefore)
	return c, nil
}

// Create implements [httpsig.CredentialStore].
func (s credentialStore) Create(ctx context.Context, c httpsig.Credential) (httpsig.Credential, error) {
	args, err := credentialArgs(&c)
	if err != nil {
		return httpsig.Credential{}, fmt.Errorf("%w: %w", httpsig.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return httpsig.Credential{}, err
	}
	res, err := s.d.exec(ctx, "INSERT INTO hmac_credentials ("+credentialColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (key_id) DO NOTHING", args...)
	if err != nil {
		return httpsig.Credential{}, s.d.fail(ctx, "create HMAC credential", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return httpsig.Credential{}, s.d.fail(ctx, "create HMAC credential", err)
	} else if n == 0 {
		return httpsig.Credential{}, fmt.Errorf("%w: %s", httpsig.ErrExists, c.KeyID)
	}
	return scanCredential(argScanner(append(args, int64(1))))
}

// Get implements [httpsig.CredentialStore].
func (s credentialStore) Get(ctx context.Context, keyID string) (httpsig.Credential, error) {
	if err := ctx.Err(); err != nil {
		return httpsig.Credential{}, err
	}
	row, err := s.d.readRow(ctx, "SELECT "+credentialColumns+" FROM hmac_credentials WHERE key_id = ?", keyID)
	if err != nil {
		return httpsig.Credential{}, s.d.fail(ctx, "get HMAC credential", err)
	}
	c, err := scanCredential(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return httpsig.Credential{}, fmt.Errorf("%w: %s", httpsig.ErrNotFound, keyID)
	case err != nil:
		return httpsig.Credential{}, s.d.fail(ctx, "get HMAC credential", err)
	}
	return c, nil
}

// List implements [httpsig.CredentialStore].
func (s credentialStore) List(ctx context.Context, f httpsig.ListFilter) ([]httpsig.Credential, error) {
	q, args, err := listQuery("hmac_credentials", credentialColumns, "key_id", listFilter{
		account: f.Account, mode: string(f.Mode), status: string(f.Status),
		afterCreated: f.AfterCreated, afterID: f.AfterID, limit: f.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", httpsig.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return collect(ctx, s.d, "list HMAC credentials", q, args, scanCredential)
}

// Update implements [httpsig.CredentialStore]: one UPDATE ... WHERE version
// = ?.
func (s credentialStore) Update(ctx context.Context, c httpsig.Credential) (httpsig.Credential, error) {
	args, err := credentialArgs(&c)
	if err != nil {
		return httpsig.Credential{}, fmt.Errorf("%w: %w", httpsig.ErrInvalidParams, err)
	}
	if err := ctx.Err(); err != nil {
		return httpsig.Credential{}, err
	}
	set := append(append([]any(nil), args[1:]...), c.KeyID, c.Version)
	res, err := s.d.exec(ctx, `UPDATE hmac_credentials SET account = ?, mode = ?, name = ?, package = ?, permissions = ?,
	stores = ?, allowed_ips = ?, denied_ips = ?, allowed_countries = ?, denied_countries = ?, secrets = ?, status = ?,
	disabled = ?, created = ?, expires = ?, revoked_at = ?, rotated_at = ?, tokens_not_before = ?,
	version = version + 1
WHERE key_id = ? AND version = ?`, set...)
	if err != nil {
		return httpsig.Credential{}, s.d.fail(ctx, "update HMAC credential", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return httpsig.Credential{}, s.d.fail(ctx, "update HMAC credential", err)
	}
	if n == 0 {
		if _, err := s.Get(ctx, c.KeyID); err != nil {
			return httpsig.Credential{}, err
		}
		return httpsig.Credential{}, fmt.Errorf("%w: %s", httpsig.ErrConflict, c.KeyID)
	}
	return scanCredential(argScanner(append(args, c.Version+1)))
}
