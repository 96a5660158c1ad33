package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"

	"github.com/keygate/keygate/internal/hmacpool"
	"github.com/keygate/keygate/internal/strbytes"
)

// Algorithm is a JWS signature algorithm (RFC 7518). A [Key] has exactly
// one, and a token is verified only with the algorithm of the key its kid
// names, whatever its header says.
type Algorithm string

// The supported algorithms.
const (
	HS256 Algorithm = "HS256" // HMAC-SHA256 with a shared secret of at least 32 bytes
	RS256 Algorithm = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of at least 2048 bits
	ES256 Algorithm = "ES256" // ECDSA P-256 with SHA-256
	EdDSA Algorithm = "EdDSA" // Ed25519
)

// Minimum key sizes; smaller keys are refused when a Key is built.
const (
	MinHMACSecretLen = 32
	MinRSABits       = 2048
)

// Key is a signing or verifying key with its key ID and its pinned
// algorithm. Build it with [NewHMACKey], [NewSigningKey],
// [NewVerifyingKey] or [GenerateKey]. It never prints its secret: fmt and
// log/slog show only the key ID and algorithm.
type Key struct {
	id     string
	alg    Algorithm
	public crypto.PublicKey // RS256, ES256, EdDSA
	// private holds the secret material behind a function value: fmt prints
	// a struct in an unexported field by reflection, without calling
	// Format, and a function prints as a code address, never as its data.
	private func() *privateKey
}

// privateKey is a key's secret material.
type privateKey struct {
	secret []byte         // HS256
	signer crypto.Signer  // RS256, ES256, EdDSA; nil for a verifying key
	macs   *hmacpool.Pool // HS256: reusable HMAC states
}

// material returns the key's secret material (empty for a verifying key).
func (k *Key) material() *privateKey {
	if k.private == nil {
		return &privateKey{}
	}
	return k.private()
}

// NewHMACKey returns an HS256 key. The secret must be at least 32 bytes
// (RFC 7518 §3.2); it is copied.
func NewHMACKey(id string, secret []byte) (*Key, error) {
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	if len(secret) < MinHMACSecretLen {
		return nil, fmt.Errorf("%w: HMAC secret of %d bytes; at least %d required", ErrWeakKey, len(secret), MinHMACSecretLen)
	}
	s := append([]byte(nil), secret...)
	priv := &privateKey{secret: s, macs: hmacpool.NewPool(s)}
	return &Key{id: id, alg: HS256, private: func() *privateKey { return priv }}, nil
}

// NewSigningKey returns a key that signs with priv: an *rsa.PrivateKey
// (RS256, at least 2048 bits), an *ecdsa.PrivateKey on P-256 (ES256) or an
// ed25519.PrivateKey (EdDSA).
func NewSigningKey(id string, priv crypto.Signer) (*Key, error) {
	k, err := NewVerifyingKey(id, priv.Public())
	if err != nil {
		return nil, err
	}
	material := &privateKey{signer: priv}
	k.private = func() *privateKey { return material }
	return k, nil
}

// NewVerifyingKey returns a key that only verifies, for a public key
// (*rsa.PublicKey, *ecdsa.PublicKey on P-256, ed25519.PublicKey).
func NewVerifyingKey(id string, pub crypto.PublicKey) (*Key, error) {
	if err := checkKeyID(id); err != nil {
		return nil, err
	}
	k := &Key{id: id, public: pub}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits; at least %d required", ErrWeakKey, p.N.BitLen(), MinRSABits)
		}
		k.alg = RS256
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ES256 needs a P-256 key", ErrWeakKey)
		}
		k.alg = ES256
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: bad Ed25519 public key", ErrWeakKey)
		}
		k.alg = EdDSA
	default:
		return nil, fmt.Errorf("%w: unsupported key type %T", ErrWeakKey, pub)
	}
	return k, nil
}

// GenerateKey returns a new random key for alg: a 32-byte secret for HS256,
// 2048-bit RSA for RS256, P-256 for ES256, Ed25519 for EdDSA.
func GenerateKey(id string, alg Algorithm) (*Key, error) {
	switch alg {
	case HS256:
		secret := make([]byte, 32)
		rand.Read(secret)
		return NewHMACKey(id, secret)
	case RS256:
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		return NewSigningKey(id, priv)
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewSigningKey(id, priv)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return NewSigningKey(id, priv)
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm", ErrWeakKey)
	}
}

func checkKeyID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: key ID must be 1 to 128 characters", ErrInvalidKeyID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("%w: key ID must be printable ASCII without spaces or quotes", ErrInvalidKeyID)
		}
	}
	return nil
}

// ID returns the key ID (the JWS "kid").
func (k *Key) ID() string { return k.id }

// Algorithm returns the key's pinned algorithm.
func (k *Key) Algorithm() Algorithm { return k.alg }

// CanSign reports whether the key holds private material.
func (k *Key) CanSign() bool {
	m := k.material()
	return m.secret != nil || m.signer != nil
}

// String describes the key without any secret.
func (k *Key) String() string { return "jwt.Key(kid=" + k.id + ", alg=" + string(k.alg) + ")" }

// Format writes the description of [Key.String] for every verb.
func (k *Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// MarshalJSON encodes only the key ID and algorithm, never key material
// (publish public keys with [KeySet.JWKS]).
func (k *Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID  string    `json:"kid"`
		Alg Algorithm `json:"alg"`
	}{k.id, k.alg})
}

// LogValue describes the key for log/slog.
func (k *Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// signingKey returns the raw key that jwx signs with.
func (k *Key) signingKey() any {
	if k.alg == HS256 {
		return k.material().secret
	}
	return k.material().signer
}

// verify checks sig over input with the key's own algorithm, using the
// standard library directly (see the package documentation for why).
func (k *Key) verify(input string, sig []byte) bool {
	switch k.alg {
	case HS256:
		return k.private().macs.Check(strbytes.View(input), sig)
	case RS256:
		digest := sha256.Sum256(strbytes.View(input))
		return rsa.VerifyPKCS1v15(k.public.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) == nil
	case ES256:
		// JWS uses the fixed-width r||s form (RFC 7518 §3.4), not ASN.1.
		if len(sig) != 64 {
			return false
		}
		digest := sha256.Sum256(strbytes.View(input))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.public.(*ecdsa.PublicKey), digest[:], r, s)
	case EdDSA:
		return ed25519.Verify(k.public.(ed25519.PublicKey), strbytes.View(input), sig)
	}
	return false
}
