package middleware_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/middleware"
)

func TestNarrowToKey(t *testing.T) {
	for _, tc := range []struct {
		name        string
		token, key  []string
		want        []string
		refusedWith error
	}{
		{"standard key: the token's stay", []string{"orders:read"}, nil, []string{"orders:read"}, nil},
		{"standard token of a restricted key: the key's", nil, []string{"orders:read"}, []string{"orders:read"}, nil},
		{"both standard", nil, nil, nil, nil},
		{"all held", []string{"orders:read", "offers:write"}, []string{"offers:write", "orders:read"}, []string{"orders:read", "offers:write"}, nil},
		{"held through a wildcard", []string{"orders:read"}, []string{"orders:*"}, []string{"orders:read"}, nil},
		{"some dropped", []string{"orders:read", "analytics:export"}, []string{"orders:read"}, []string{"orders:read"}, nil},
		{"a wider wildcard dropped", []string{"orders:*", "orders:read"}, []string{"orders:read"}, []string{"orders:read"}, nil},
		{"none held: refused, not standard", []string{"analytics:export"}, []string{"orders:read"}, nil, middleware.ErrClientInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := middleware.NarrowToKey(tc.token, tc.key)
			if tc.refusedWith != nil {
				assert.True(t, errors.Is(err, tc.refusedWith), "err = %v", err)
				assert.True(t, errors.Is(err, middleware.ErrInvalidToken), "a 401 invalid_token")
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	token := []string{"orders:read"}
	got, _ := middleware.NarrowToKey(token, []string{"orders:*"})
	assert.Same(t, &token[0], &got[0], "nothing dropped: the token's own slice, no allocation")
}
