package jwt

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
)

// privateKeyJSON is the form of MarshalPrivate: the key ID, the algorithm
// and the secret, as a PKCS #8 DER private key (RS256, ES256, EdDSA) or
// the raw HMAC secret (HS256).
type privateKeyJSON struct {
	ID     string    `json:"kid"`
	Alg    Algorithm `json:"alg"`
	PKCS8  []byte    `json:"pkcs8,omitempty"`
	Secret []byte    `json:"secret,omitempty"`
}

// MarshalPrivate returns k with its secret material, in the form
// [ParsePrivate] reads back: JSON holding the key ID, the algorithm and
// the private key as PKCS #8 DER (the HMAC secret for HS256). It is the
// only way to take the secret out of a Key, so that a service can keep its
// signing keys across restarts and share them between instances: seal the
// result (with AES-GCM under a master key, or a KMS) before storing it.
// It fails with [ErrNoPrivateKey] for a verifying key.
func (k *Key) MarshalPrivate() ([]byte, error) {
	m := k.material()
	out := privateKeyJSON{ID: k.id, Alg: k.alg}
	switch {
	case k.alg == HS256 && m.secret != nil:
		out.Secret = m.secret
	case m.signer != nil:
		der, err := x509.MarshalPKCS8PrivateKey(m.signer)
		if err != nil {
			return nil, fmt.Errorf("jwt: marshal private key: %w", err)
		}
		out.PKCS8 = der
	default:
		return nil, ErrNoPrivateKey
	}
	return json.Marshal(out)
}

// ParsePrivate reads a key written by [Key.MarshalPrivate], with the same
// checks as the constructors (key ID, algorithm, key size and curve). The
// algorithm must be the one the key material implies.
func ParsePrivate(data []byte) (*Key, error) {
	var in privateKeyJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("%w: not a marshalled private key", ErrInvalidKeyData)
	}
	var (
		k   *Key
		err error
	)
	switch {
	case in.Alg == HS256 && in.Secret != nil && in.PKCS8 == nil:
		k, err = NewHMACKey(in.ID, in.Secret)
	case in.Alg != HS256 && in.PKCS8 != nil && in.Secret == nil:
		priv, perr := x509.ParsePKCS8PrivateKey(in.PKCS8)
		if perr != nil {
			return nil, fmt.Errorf("%w: bad PKCS #8 private key", ErrInvalidKeyData)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: not a signing key", ErrInvalidKeyData)
		}
		k, err = NewSigningKey(in.ID, signer)
	default:
		return nil, fmt.Errorf("%w: the algorithm does not match the key material", ErrInvalidKeyData)
	}
	if err != nil {
		return nil, err
	}
	if k.alg != in.Alg {
		return nil, fmt.Errorf("%w: the algorithm does not match the key material", ErrInvalidKeyData)
	}
	return k, nil
}
