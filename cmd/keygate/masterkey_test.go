package main

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMasterKeyFile checks the master key file: created once with mode
// 0600 however many processes start at once, read back afterwards, and
// refused (without quoting it) when it is not 64 hex characters.
func TestMasterKeyFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keygate.key")

	const starts = 16
	keys := make([][]byte, starts)
	created := make([]bool, starts)
	var wg sync.WaitGroup
	for i := range starts {
		wg.Go(func() {
			var err error
			keys[i], created[i], err = masterKeySource{path: path}.load(ctx)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	n := 0
	for i := range starts {
		require.Len(t, keys[i], 32)
		require.Equal(t, keys[0], keys[i], "every start agrees on the key")
		if created[i] {
			n++
		}
	}
	require.Equal(t, 1, n, "exactly one start creates the file")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(keys[0])+"\n", string(data))
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		require.Empty(t, masterKeyWarning(path))
		require.NoError(t, os.Chmod(path, 0o644))
		require.Contains(t, masterKeyWarning(path), "readable by other users")
	}

	again, createdAgain, err := masterKeySource{path: path}.load(ctx)
	require.NoError(t, err)
	require.False(t, createdAgain)
	require.Equal(t, keys[0], again)

	bad := filepath.Join(t.TempDir(), "bad.key")
	secretish := strings.Repeat("zz", 32)
	require.NoError(t, os.WriteFile(bad, []byte(secretish), 0o600))
	_, _, err = masterKeySource{path: bad}.load(ctx)
	require.ErrorIs(t, err, errMasterKeyFormat)
	require.NotContains(t, err.Error(), secretish)

	key, _, err := masterKeySource{env: "  " + strings.ToUpper(hex.EncodeToString(keys[0])) + "\n"}.load(ctx)
	require.NoError(t, err, "upper case and surrounding space are fine")
	require.Equal(t, keys[0], key)
	_, _, err = masterKeySource{env: secretish}.load(ctx)
	require.ErrorIs(t, err, errMasterKeyFormat)
	require.NotContains(t, err.Error(), secretish)
	require.Equal(t, "$"+envMasterKey, masterKeySource{env: "x"}.String())
}
