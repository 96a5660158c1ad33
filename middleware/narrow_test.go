package middleware_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
)

func TestNarrowToKey(t *testing.T) {
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Access: middleware.AccessConfig{Packages: testpackages.Retail()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		token, key  []string
		want        []string
		refusedWith error
	}{
		{"standard key: the token's packaged ones stay", []string{"offers:write", "stores:read:store_1"}, nil, []string{"offers:write", "stores:read:store_1"}, nil},
		{"standard key: admin and unpackaged ones go", []string{"offers:write", "admin:write", "orders:read", "*:*", "@cashier"}, nil, []string{"offers:write"}, nil},
		{"standard key: nothing packaged left, refused", []string{"admin:write"}, nil, nil, middleware.ErrClientInvalid},
		{"standard token of a restricted key: the key's", nil, []string{"orders:read"}, []string{"orders:read"}, nil},
		{"both standard", nil, nil, nil, nil},
		{"all held", []string{"orders:read", "offers:write"}, []string{"offers:write", "orders:read"}, []string{"orders:read", "offers:write"}, nil},
		{"held through a wildcard", []string{"orders:read"}, []string{"orders:*"}, []string{"orders:read"}, nil},
		{"some dropped", []string{"orders:read", "analytics:export"}, []string{"orders:read"}, []string{"orders:read"}, nil},
		{"a wider wildcard dropped", []string{"orders:*", "orders:read"}, []string{"orders:read"}, []string{"orders:read"}, nil},
		{"none held: refused, not standard", []string{"analytics:export"}, []string{"orders:read"}, nil, middleware.ErrClientInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.NarrowToKey(tc.token, tc.key)
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
	got, _ := auth.NarrowToKey(token, []string{"orders:*"})
	assert.Same(t, &token[0], &got[0], "nothing dropped: the token's own slice, no allocation")
}
