package base62_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/internal/base62"
)

func TestID(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		id := base62.ID("acct_", 16)
		require.Len(t, id, 21)
		require.True(t, strings.HasPrefix(id, "acct_"))
		require.False(t, seen[id], "IDs do not repeat")
		seen[id] = true
		for _, c := range id[5:] {
			require.True(t, strings.ContainsRune(base62.Alphabet, c), "%q is base62", c)
			counts[c]++
		}
	}
	// 32,000 draws over 62 characters: about 516 each. A character never
	// drawn, or drawn four times too often, would mean a broken sampler
	// (the chance of either by luck is far below 1e-9).
	assert.Len(t, counts, 62, "every character occurs")
	for c, n := range counts {
		assert.Less(t, n, 4*516, "%q is drawn far too often", c)
	}
}

func TestFillEmpty(t *testing.T) {
	base62.Fill(nil) // returns at once
	assert.Equal(t, "p_", base62.ID("p_", 0))
}
