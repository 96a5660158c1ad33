package httpsig

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/internal/seal"
)

func sealTestSealer(t *testing.T, b byte) sealer {
	t.Helper()
	s, err := newSealer(bytes.Repeat([]byte{b}, MasterKeyLen))
	require.NoError(t, err)
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := sealTestSealer(t, 1)
	secret := newSecret("hk_A").Reveal()
	sealed := s.seal("hk_A", secret)
	assert.Len(t, sealed, SecretLen+seal.Overhead)
	assert.Equal(t, byte(1), sealed[0], "version")
	opened, err := s.open("hk_A", sealed)
	require.NoError(t, err)
	assert.Equal(t, secret, opened)

	// A fresh nonce each time: sealing the same secret twice gives
	// unrelated ciphertexts.
	again := s.seal("hk_A", secret)
	assert.NotEqual(t, sealed[1:13], again[1:13], "nonce")
	assert.NotEqual(t, sealed[13:], again[13:], "ciphertext")

	// Bound to the key ID and to the master key.
	for _, id := range []string{"hk_B", "hk_a", "hk_A ", "", "hk_"} {
		_, err := s.open(id, sealed)
		assert.ErrorIs(t, err, ErrUnseal, "opened for %q", id)
	}
	_, err = sealTestSealer(t, 2).open("hk_A", sealed)
	assert.ErrorIs(t, err, ErrUnseal)

	// Another format version does not open, even with a valid body.
	v2 := bytes.Clone(sealed)
	v2[0] = 2
	_, err = s.open("hk_A", v2)
	assert.ErrorIs(t, err, ErrUnseal)

	// An empty secret seals and opens too (nothing assumes 64 bytes).
	empty := s.seal("hk_A", nil)
	opened, err = s.open("hk_A", empty)
	require.NoError(t, err)
	assert.Empty(t, opened)
}

// TestSealFormat opens a sealed secret with crypto/cipher's plain GCM and
// the documented layout, as another implementation (a migration tool in
// another language) would.
func TestSealFormat(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, MasterKeyLen)
	s, err := newSealer(key)
	require.NoError(t, err)
	secret := []byte("sixty-four bytes of secret, give or take a few: 0123456789abcdef")
	sealed := s.seal("hk_0123456789abcdef", secret)

	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	require.Equal(t, byte(1), sealed[0], "version")
	nonce, body := sealed[1:1+gcm.NonceSize()], sealed[1+gcm.NonceSize():]
	opened, err := gcm.Open(nil, nonce, body, []byte("keygate hmac secret v1\x00hk_0123456789abcdef"))
	require.NoError(t, err)
	assert.Equal(t, secret, opened)
	assert.Len(t, body, len(secret)+gcm.Overhead())
}

func TestSealRejectsBadInput(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		_, err := newSealer(make([]byte, n))
		assert.ErrorIs(t, err, ErrInvalidParams, "%d-byte master key", n)
	}
	s := sealTestSealer(t, 1)
	sealed := s.seal("hk_A", []byte("secret"))
	for n := 0; n < len(sealed); n++ {
		_, err := s.open("hk_A", sealed[:n])
		assert.ErrorIs(t, err, ErrUnseal, "truncated to %d bytes", n)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x10
		_, err := s.open("hk_A", bad)
		assert.ErrorIs(t, err, ErrUnseal, "byte %d flipped", i)
	}
}
