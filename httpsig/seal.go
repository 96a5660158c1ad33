package httpsig

import (
	"errors"
	"fmt"

	"github.com/keygate/keygate/internal/seal"
)

// MasterKeyLen is the length of the master key that seals stored secrets:
// an AES-256 key.
const MasterKeyLen = seal.KeyLen

// ErrUnseal is returned when a stored secret could not be opened. It was sealed
// under another master key, or for another key ID, or it has been altered.
var ErrUnseal = errors.New("httpsig: cannot open sealed secret")

// The sealed form of a secret, as kept in [StoredSecret.Sealed]: see
// package internal/seal (AES-256-GCM under the master key, a fresh random
// nonce per seal, and additional authenticated data naming the format and
// the key ID, so that a sealed secret copied to another credential does not
// open there).
const sealLabel = "keygate hmac secret v1\x00"

// sealer seals and opens secrets under the master key.
type sealer struct{ s seal.Sealer }

// newSealer returns a sealer for a MasterKeyLen-byte master key.
func newSealer(masterKey []byte) (sealer, error) {
	s, err := seal.New(masterKey, sealLabel)
	if err != nil {
		return sealer{}, fmt.Errorf("%w: the master key must be exactly %d bytes", ErrInvalidParams, MasterKeyLen)
	}
	return sealer{s}, nil
}

// seal encrypts secret for the credential keyID.
func (s sealer) seal(keyID string, secret []byte) []byte { return s.s.Seal(keyID, secret) }

// open decrypts a sealed secret of the credential keyID, or returns
// [ErrUnseal].
func (s sealer) open(keyID string, sealed []byte) ([]byte, error) {
	secret, err := s.s.Open(keyID, sealed)
	if err != nil {
		return nil, ErrUnseal
	}
	return secret, nil
}
