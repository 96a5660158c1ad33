package jwt

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Session revocations alone sweep the expired entries: the 1024th write
// of either kind forgets both maps' expired entries.
func TestMemoryDenylistSessionsSweep(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewMemoryDenylist()
	d.now = func() time.Time { return at }
	past := at.Add(-RevocationMargin - time.Second)
	require.NoError(t, d.RevokeToken(ctx, "old-jti", past))
	for i := 0; i < 1022; i++ {
		require.NoError(t, d.RevokeSession(ctx, fmt.Sprintf("old-%d", i), past))
	}
	require.Len(t, d.sessions, 1022)
	require.NoError(t, d.RevokeSession(ctx, "live", at.Add(time.Hour)))
	require.Empty(t, d.tokens)
	require.Equal(t, map[string]time.Time{"live": at.Add(time.Hour)}, d.sessions)
	// A later until replaces an earlier one, never the reverse.
	require.NoError(t, d.RevokeSession(ctx, "live", at))
	require.Equal(t, at.Add(time.Hour), d.sessions["live"])
}
