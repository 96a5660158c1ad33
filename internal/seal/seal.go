// Package seal encrypts secrets at rest under a master key: AES-256-GCM
// from the standard library, a fresh random nonce per seal, and additional
// authenticated data that names the purpose and the owner of each secret,
// so that a sealed secret copied elsewhere does not open there. The HMAC
// credentials (package httpsig) and the reference server's signing keys use
// it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// KeyLen is the length of a master key: an AES-256 key.
const KeyLen = 32

// Overhead is what sealing adds to a secret: a version byte, the nonce
// and the tag.
const Overhead = 1 + 12 + 16

// version is the first byte of every sealed secret:
//
//	version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)
const version = 1

// ErrOpen is returned when a sealed secret did not open: another master key,
// another purpose or owner, or altered data.
var ErrOpen = errors.New("seal: cannot open sealed secret")

// ErrKey is returned for a master key that is not KeyLen bytes.
var ErrKey = fmt.Errorf("seal: the master key must be exactly %d bytes", KeyLen)

// Sealer seals and opens secrets for one purpose under one master key. The
// AEAD sits behind a function value so that printing a Sealer (or a struct
// holding one) by reflection shows a code address, never the expanded key.
type Sealer struct {
	aead  func() cipher.AEAD
	label string
}

// New returns a Sealer for a KeyLen-byte master key, whose sealed secrets
// are bound to label (the purpose, such as "keygate hmac secret v1\x00").
// The key is expanded into the cipher's state; the caller's slice is not
// kept.
func New(masterKey []byte, label string) (Sealer, error) {
	if len(masterKey) != KeyLen {
		return Sealer{}, ErrKey
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return Sealer{}, fmt.Errorf("%w: %v", ErrKey, err)
	}
	// A random 96-bit nonce per seal: a master key must seal fewer than
	// 2^32 secrets, which one seal per credential and rotation leaves far
	// away.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return Sealer{}, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return Sealer{aead: func() cipher.AEAD { return aead }, label: label}, nil
}

// ad returns the additional authenticated data for owner.
func (s Sealer) ad(owner string) []byte {
	ad := make([]byte, 0, len(s.label)+len(owner))
	return append(append(ad, s.label...), owner...)
}

// Seal encrypts secret for owner (a key ID, say).
func (s Sealer) Seal(owner string, secret []byte) []byte {
	out := make([]byte, 1, len(secret)+Overhead)
	out[0] = version
	return s.aead().Seal(out, nil, secret, s.ad(owner))
}

// Open decrypts a secret sealed for owner, or returns [ErrOpen].
func (s Sealer) Open(owner string, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != version {
		return nil, ErrOpen
	}
	secret, err := s.aead().Open(nil, nil, sealed[1:], s.ad(owner))
	if err != nil {
		return nil, ErrOpen
	}
	return secret, nil
}
