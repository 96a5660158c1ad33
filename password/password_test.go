package password

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
)

// cheap keeps the tests fast; the format is the same at any cost.
var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", cheap)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$"), h)
	assert.NotContains(t, h, "correct horse")
	assert.NoError(t, Verify("correct horse", h))
	assert.ErrorIs(t, Verify("correct horse!", h), ErrMismatch)
	assert.ErrorIs(t, Verify("", h), ErrMismatch)
	h2, err := Hash("correct horse", cheap)
	require.NoError(t, err)
	assert.NotEqual(t, h, h2, "a fresh salt each time")
}

// TestKnownAnswer checks the encoding against x/crypto's Argon2id directly,
// with a fixed salt: what Verify reads is what the reference computes.
func TestKnownAnswer(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("password"), salt, 1, 64, 1, 32)
	enc := "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	assert.NoError(t, Verify("password", enc))
}

func TestMalformedHashes(t *testing.T) {
	good, err := Hash("pw", cheap)
	require.NoError(t, err)
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"empty":          "",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"signed version": strings.Replace(good, "v=19", "v=+19", 1),
		"version junk":   strings.Replace(good, "v=19", "v=19x", 1),
		"padded version": strings.Replace(good, "v=19", "v=019", 1),
		"huge memory":    strings.Replace(good, "m=64", "m=99999999", 1),
		"huge time":      strings.Replace(good, "t=1", "t=1000", 1),
		"zero threads":   strings.Replace(good, "p=1", "p=0", 1),
		"padded salt":    strings.Join([]string{parts[0], parts[1], parts[2], parts[3], parts[4] + "==", parts[5]}, "$"),
		"short key":      strings.Join(append(parts[:5:5], "AAAA"), "$"),
		"extra field":    good + "$x",
		"leading zeros":  strings.Replace(good, "m=64", "m=064", 1),
		"trailing junk":  strings.Replace(good, "p=1", "p=1,x=2", 1),
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"not base64 key": strings.Join(append(parts[:5:5], "!!!!!!!!!!!!!!!!!!!!!!"), "$"),
	} {
		assert.ErrorIs(t, Verify("pw", enc), ErrMalformedHash, name)
	}
}

func TestTooLong(t *testing.T) {
	_, err := Hash(strings.Repeat("a", MaxLen+1), cheap)
	assert.ErrorIs(t, err, ErrTooLong)
	assert.ErrorIs(t, Verify(strings.Repeat("a", MaxLen+1), "x"), ErrTooLong)
}

func FuzzVerify(f *testing.F) {
	good, _ := Hash("pw", cheap)
	f.Add("pw", good)
	f.Add("pw", "$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, pw, enc string) {
		err := Verify(pw, enc)
		if err == nil {
			// Whatever verifies is a well-formed hash of pw.
			if _, _, _, derr := decode(enc); derr != nil {
				t.Fatalf("accepted a malformed hash %q", enc)
			}
		}
	})
}
