package redisstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/jwt"
	"github.com/redis/go-redis/v9"
)

// OneTimeStore is the [jwt.OneTimeStore] in Redis: one-time token records
// shared by every instance that uses the same Redis and prefix, so that a
// token issued by one can be redeemed on any, exactly once.
//
// Put is SET key record NX PX ttl, where ttl runs from now ([Config.Now])
// to the record's ExpiresAt (at least a millisecond): Redis refuses a
// second record with the same hash and forgets the record when it
// expires. Consume is GETDEL: Redis returns the record and removes it in
// one atomic step, so of any number of concurrent Consume calls for one
// hash, on any number of instances, exactly one gets it.
//
// The key is the record's Hash (the SHA-256 of the token, never the
// token); the value is the record as JSON.
//
// A bounded Put (max > 0) first reserves a place among the records of its
// account and key ID (a Lua script on their sorted set), so that at most
// max of them are unexpired, across every instance; Consume gives the place
// back. See "Bounds per credential" in the package documentation.
//
// It is safe for concurrent use. Make one with [NewOneTimeStore].
type OneTimeStore struct {
	store
}

var _ jwt.OneTimeStore = (*OneTimeStore)(nil)

// NewOneTimeStore returns a OneTimeStore for cfg. It fails, with an error
// wrapping [ErrInvalidConfig], if cfg has no Client.
func NewOneTimeStore(cfg Config) (*OneTimeStore, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	return &OneTimeStore{store: s}, nil
}

// oneTimeRecord is a [jwt.OneTimeRecord] as stored: JSON with short,
// stable names, hashes in base64url.
type oneTimeRecord struct {
	Hash      string       `json:"h"`
	Purpose   string       `json:"p"`
	Account   string       `json:"a"`
	KeyID     string       `json:"k,omitempty"`
	Subject   string       `json:"s,omitempty"`
	Mode      keygate.Mode `json:"m"`
	Method    string       `json:"method,omitempty"`
	Path      string       `json:"path,omitempty"`
	EntityID  string       `json:"entity,omitempty"`
	BodyHash  string       `json:"body,omitempty"`
	IssuedAt  time.Time    `json:"iat"`
	ExpiresAt time.Time    `json:"exp"`
}

func (s *OneTimeStore) oneTimeKey(hash [32]byte) string {
	return s.key("onetime:", base64.RawURLEncoding.EncodeToString(hash[:]))
}

// ownerKey is the key of the sorted set of rec's account and key ID.
func (s *OneTimeStore) ownerKey(rec jwt.OneTimeRecord) string {
	return s.key("onetimeq:", ownerHash(rec.Account, rec.KeyID))
}

// Put implements [jwt.OneTimeStore]. A record whose ExpiresAt has passed
// is stored for a millisecond. Expiry for the bound is measured by
// [Config.Now].
func (s *OneTimeStore) Put(ctx context.Context, rec jwt.OneTimeRecord, max int) error {
	if err := checkCtx(ctx, "put one-time token"); err != nil {
		return err
	}
	b, err := encodeOneTime(rec)
	if err != nil {
		return fmt.Errorf("redisstore: put one-time token: %w", err)
	}
	member := base64.RawURLEncoding.EncodeToString(rec.Hash[:])
	if max > 0 {
		room, err := s.reserve(ctx, s.ownerKey(rec), member, rec.ExpiresAt, max)
		switch {
		case err != nil:
			return fmt.Errorf("redisstore: put one-time token: %w", err)
		case !room:
			return fmt.Errorf("redisstore: put one-time token: %w: %d outstanding", jwt.ErrOneTimeQuota, max)
		}
	}
	ok, err := s.client.SetNX(ctx, s.oneTimeKey(rec.Hash), b, ttl(rec.ExpiresAt.Sub(s.now()))).Result()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: put one-time token: %w", err)
	case !ok:
		return fmt.Errorf("redisstore: put one-time token: %w", jwt.ErrExists)
	}
	return nil
}

// Consume implements [jwt.OneTimeStore]. It returns an error wrapping
// [jwt.ErrNotFound] only when Redis answers that there is no record;
// any failure to reach Redis, or a record that cannot be read, is another
// error.
func (s *OneTimeStore) Consume(ctx context.Context, hash [32]byte) (jwt.OneTimeRecord, error) {
	if err := checkCtx(ctx, "consume one-time token"); err != nil {
		return jwt.OneTimeRecord{}, err
	}
	b, err := s.client.GetDel(ctx, s.oneTimeKey(hash)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return jwt.OneTimeRecord{}, fmt.Errorf("redisstore: consume one-time token: %w", jwt.ErrNotFound)
	case err != nil:
		return jwt.OneTimeRecord{}, fmt.Errorf("redisstore: consume one-time token: %w", err)
	}
	rec, err := decodeOneTime(b)
	if err != nil {
		return jwt.OneTimeRecord{}, fmt.Errorf("redisstore: consume one-time token: %w", err)
	}
	if rec.Hash != hash {
		return jwt.OneTimeRecord{}, errors.New("redisstore: consume one-time token: the stored record has another hash")
	}
	// Give the place back. Best effort: the record is consumed whatever
	// happens here, and a place not given back is freed at its expiry.
	_ = s.client.ZRem(ctx, s.ownerKey(rec), base64.RawURLEncoding.EncodeToString(hash[:])).Err()
	return rec, nil
}

// encodeOneTime is the value Put stores for rec. Only a time outside the
// years 0-9999 makes it fail.
func encodeOneTime(rec jwt.OneTimeRecord) ([]byte, error) {
	v := oneTimeRecord{
		Hash:    base64.RawURLEncoding.EncodeToString(rec.Hash[:]),
		Purpose: rec.Purpose, Account: rec.Account, KeyID: rec.KeyID, Subject: rec.Subject, Mode: rec.Mode,
		Method: rec.Method, Path: rec.Path, EntityID: rec.EntityID,
		IssuedAt: rec.IssuedAt, ExpiresAt: rec.ExpiresAt,
	}
	if rec.BodyHash != [32]byte{} {
		v.BodyHash = base64.RawURLEncoding.EncodeToString(rec.BodyHash[:])
	}
	return json.Marshal(v)
}

// decodeOneTime reads a record stored by Put.
func decodeOneTime(b []byte) (jwt.OneTimeRecord, error) {
	var v oneTimeRecord
	if err := json.Unmarshal(b, &v); err != nil {
		return jwt.OneTimeRecord{}, errors.New("malformed record")
	}
	rec := jwt.OneTimeRecord{
		Purpose: v.Purpose, Account: v.Account, KeyID: v.KeyID, Subject: v.Subject, Mode: v.Mode,
		Method: v.Method, Path: v.Path, EntityID: v.EntityID,
		IssuedAt: v.IssuedAt, ExpiresAt: v.ExpiresAt,
	}
	if !decodeHash(&rec.Hash, v.Hash) || (v.BodyHash != "" && !decodeHash(&rec.BodyHash, v.BodyHash)) {
		return jwt.OneTimeRecord{}, errors.New("malformed record hash")
	}
	return rec, nil
}

// decodeHash decodes s, 32 bytes in base64url, into dst.
func decodeHash(dst *[32]byte, s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(len(dst)) {
		return false
	}
	n, err := base64.RawURLEncoding.Decode(dst[:], []byte(s))
	return err == nil && n == len(dst)
}
