package passworduser_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/passworduser"
	"github.com/keygate/keygate/passworduser/passwordusertest"
)

func TestMemoryStoreConformance(t *testing.T) {
	passwordusertest.TestStore(t, func(*testing.T) passworduser.Store { return passworduser.NewMemoryStore() })
}

func TestMemoryStore(t *testing.T) {
	s := passworduser.NewMemoryStore()
	_, err := s.Get(t.Context(), "nobody")
	require.ErrorIs(t, err, passworduser.ErrNotFound)
	rec := passworduser.Record{Username: "u", PasswordHash: "$argon2id$secret-hash", Subject: "s", Account: "a"}
	require.NoError(t, s.Put(t.Context(), rec))
	got, err := s.Get(t.Context(), "u")
	require.NoError(t, err)
	assert.Equal(t, rec, got)
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", s, s, s), "secret-hash")
}
