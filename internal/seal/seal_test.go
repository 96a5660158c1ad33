package seal_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/internal/seal"
)

// The format and tampering are tested through package httpsig's tests; these
// check what the purpose label adds.
func TestLabelsSeparatePurposes(t *testing.T) {
	key := bytes.Repeat([]byte{7}, seal.KeyLen)
	a, err := seal.New(key, "purpose a\x00")
	require.NoError(t, err)
	b, err := seal.New(key, "purpose b\x00")
	require.NoError(t, err)
	sealed := a.Seal("owner", []byte("secret"))
	opened, err := a.Open("owner", sealed)
	require.NoError(t, err)
	assert.Equal(t, []byte("secret"), opened)
	_, err = b.Open("owner", sealed)
	assert.ErrorIs(t, err, seal.ErrOpen, "same key, another purpose")
	_, err = a.Open("other", sealed)
	assert.ErrorIs(t, err, seal.ErrOpen, "same purpose, another owner")
	assert.Len(t, sealed, len("secret")+seal.Overhead)
}

func TestNewRefusesBadKeys(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := seal.New(make([]byte, n), "x")
		assert.ErrorIs(t, err, seal.ErrKey, "%d bytes", n)
	}
}
