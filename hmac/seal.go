package hmac

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// MasterKeyLen is the length of the master key that seals stored secrets:
// an AES-256 key.
const MasterKeyLen = 32

// ErrUnseal: a stored secret could not be opened. It was sealed under
// another master key, or for another key ID, or it has been altered.
var ErrUnseal = errors.New("hmac: cannot open sealed secret")

// The sealed form of a secret, as kept in [StoredSecret.Sealed]:
//
//	version (1 byte, sealVersion) || nonce (12 bytes) || ciphertext || tag (16 bytes)
//
// AES-256-GCM under the master key, with a fresh random nonce per seal, and
// with additional authenticated data that names the format and the key ID
// (sealLabel || keyID), so that a sealed secret copied to another
// credential does not open there.
const (
	sealVersion = 1
	sealLabel   = "keygate hmac secret v1\x00"
	// sealOverhead is what sealing adds to a secret: version, nonce and
	// tag.
	sealOverhead = 1 + 12 + 16
)

// sealer seals and opens secrets under the master key. The AEAD sits behind
// a function value so that printing a Manager by reflection (%+v) shows a
// code address, never the expanded key.
type sealer struct {
	aead func() cipher.AEAD
}

// newSealer returns a sealer for a MasterKeyLen-byte master key. The key is
// expanded into the cipher's own state; the caller's slice is not kept.
func newSealer(masterKey []byte) (sealer, error) {
	if len(masterKey) != MasterKeyLen {
		return sealer{}, fmt.Errorf("%w: the master key must be exactly %d bytes", ErrInvalidParams, MasterKeyLen)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return sealer{}, fmt.Errorf("%w: %v", ErrInvalidParams, err)
	}
	// A random 96-bit nonce per seal: a master key must seal fewer than
	// 2^32 secrets, which one key per credential and rotation leaves far
	// away.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return sealer{}, fmt.Errorf("%w: %v", ErrInvalidParams, err)
	}
	return sealer{aead: func() cipher.AEAD { return aead }}, nil
}

// sealAD returns the additional authenticated data for keyID.
func sealAD(keyID string) []byte {
	ad := make([]byte, 0, len(sealLabel)+len(keyID))
	return append(append(ad, sealLabel...), keyID...)
}

// seal encrypts secret for the credential keyID.
func (s sealer) seal(keyID string, secret []byte) []byte {
	out := make([]byte, 1, len(secret)+sealOverhead)
	out[0] = sealVersion
	return s.aead().Seal(out, nil, secret, sealAD(keyID))
}

// open decrypts a sealed secret of the credential keyID, or returns
// [ErrUnseal].
func (s sealer) open(keyID string, sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	secret, err := s.aead().Open(nil, nil, sealed[1:], sealAD(keyID))
	if err != nil {
		return nil, ErrUnseal
	}
	return secret, nil
}
