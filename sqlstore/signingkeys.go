package sqlstore

import (
	"context"
	"fmt"

	"github.com/keygate/keygate/jwt"
)

// signingKeyStore is the [jwt.KeyStore] of a DB.
type signingKeyStore struct{ d *DB }

// SigningKeys returns the DB's [jwt.KeyStore]: the sealed JWT signing keys
// that every instance sharing the database signs and verifies with. Add is
// an INSERT ... ON CONFLICT DO NOTHING, so that of instances adding one ID
// at once exactly one succeeds.
func (d *DB) SigningKeys() jwt.KeyStore { return signingKeyStore{d} }

var _ jwt.KeyStore = signingKeyStore{}

// Add implements [jwt.KeyStore].
func (s signingKeyStore) Add(ctx context.Context, k jwt.StoredKey) error {
	created, err := encTime(k.Created)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sealed := k.Sealed
	if sealed == nil {
		sealed = []byte{} // NOT NULL
	}
	res, err := s.d.exec(ctx, "INSERT INTO jwt_signing_keys (id, sealed, created) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
		k.ID, sealed, created)
	if err != nil {
		return s.d.fail(ctx, "add signing key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.d.fail(ctx, "add signing key", err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s", jwt.ErrDuplicateKey, k.ID)
	}
	return nil
}

// List implements [jwt.KeyStore].
func (s signingKeyStore) List(ctx context.Context) ([]jwt.StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.d.query(ctx, "SELECT id, sealed, created FROM jwt_signing_keys ORDER BY created, id")
	if err != nil {
		return nil, s.d.fail(ctx, "list signing keys", err)
	}
	defer rows.Close()
	var out []jwt.StoredKey
	for rows.Next() {
		var k jwt.StoredKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Sealed, &created); err != nil {
			return nil, s.d.fail(ctx, "list signing keys", err)
		}
		k.Created = decTime(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.fail(ctx, "list signing keys", err)
	}
	return out, nil
}
