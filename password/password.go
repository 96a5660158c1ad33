// Package password hashes and verifies passwords with Argon2id (RFC 9106),
// in the PHC string format that other implementations read:
//
//	$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>
//
// It composes golang.org/x/crypto/argon2; it adds the encoding, a random
// salt, parameter bounds and a constant-time comparison.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the Argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultParams follow RFC 9106 §4's second recommendation for memory-
// constrained servers (64 MiB, 3 passes would be stronger but slow on small
// machines): 64 MiB, 2 passes, 1 lane.
var DefaultParams = Params{Memory: 64 << 10, Time: 2, Threads: 1}

// Bounds on parameters read from a stored hash, so that a tampered record
// cannot make verification take unbounded memory or time.
const (
	maxMemory  = 1 << 20 // 1 GiB
	maxTime    = 16
	maxThreads = 16
	saltLen    = 16
	keyLen     = 32
	// MaxLen is the longest password accepted.
	MaxLen = 1024
)

// Errors; test with errors.Is.
var (
	// ErrMismatch is returned when the password does not match the hash.
	ErrMismatch = errors.New("password: mismatch")
	// ErrMalformedHash is returned when the stored string is not an Argon2id
	// PHC hash within bounds.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrTooLong is returned when the password is longer than MaxLen bytes.
	ErrTooLong = errors.New("password: too long")
)

var b64 = base64.RawStdEncoding.Strict()

// Hash returns the PHC string of password under p with a fresh salt.
func Hash(password string, p Params) (string, error) {
	if len(password) > MaxLen {
		return "", ErrTooLong
	}
	if p.Memory == 0 || p.Memory > maxMemory || p.Time == 0 || p.Time > maxTime || p.Threads == 0 || p.Threads > maxThreads {
		return "", fmt.Errorf("password: parameters out of bounds")
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks password against a PHC string made by Hash (or any Argon2id
// implementation within the bounds). It returns nil, [ErrMismatch],
// [ErrMalformedHash] or [ErrTooLong].
func Verify(password, encoded string) error {
	if len(password) > MaxLen {
		return ErrTooLong
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// decode parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash".
func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) { // exactly: no sign, padding or trailing text
		return p, nil, nil, ErrMalformedHash
	}
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); n != 3 || err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	if fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) != parts[3] ||
		p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory || p.Time == 0 || p.Time > maxTime || p.Threads == 0 || p.Threads > maxThreads {
		return p, nil, nil, ErrMalformedHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
