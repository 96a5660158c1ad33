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
		return fmt.Errorf("%w: %s", jwt.ErrExists, k.ID)
	}
	return nil
}

// List implements [jwt.KeyStore].
func (s signingKeyStore) List(ctx context.Context) ([]jwt.StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return collect(ctx, s.d, "list signing keys", "SELECT id, sealed, created FROM jwt_signing_keys ORDER BY created, id", nil,
		func(sc scanner) (jwt.StoredKey, error) {
			var k jwt.StoredKey
			var created int64
			err := sc.Scan(&k.ID, &k.Sealed, &created)
			k.Created = decTime(created)
			return k, err
		})
}
