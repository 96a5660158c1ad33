package account_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/account"
)

func TestPackagesRefuseUnknown(t *testing.T) {
	ctx := context.Background()
	m, err := account.NewManager(account.Config{Packages: []string{"GO", "PRIME"}})
	require.NoError(t, err)
	_, err = m.Create(ctx, account.CreateParams{Name: "a", Package: "PLATINUM"})
	require.ErrorIs(t, err, account.ErrInvalidParams)
	assert.Contains(t, err.Error(), "package")
	_, err = m.Create(ctx, account.CreateParams{Name: "a", Package: "prime"})
	require.ErrorIs(t, err, account.ErrInvalidParams, "names compare exactly")

	a, err := m.Create(ctx, account.CreateParams{Name: "a", Package: "GO"})
	require.NoError(t, err)
	none, err := m.Create(ctx, account.CreateParams{Name: "no package"})
	require.NoError(t, err, "no package is always allowed")
	assert.Empty(t, none.Package)

	bad := "PLATINUM"
	_, err = m.Update(ctx, a.ID, account.Changes{Package: &bad})
	require.ErrorIs(t, err, account.ErrInvalidParams)
	assert.Contains(t, err.Error(), "package")
	got, err := m.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, "GO", got.Package, "unchanged")
	prime := "PRIME"
	got, err = m.Update(ctx, a.ID, account.Changes{Package: &prime})
	require.NoError(t, err)
	assert.Equal(t, "PRIME", got.Package)

	// Nil allows any package of the right syntax; an empty list only none.
	anyPkg, err := account.NewManager(account.Config{})
	require.NoError(t, err)
	_, err = anyPkg.Create(ctx, account.CreateParams{Name: "a", Package: "PLATINUM"})
	require.NoError(t, err)
	empty, err := account.NewManager(account.Config{Packages: []string{}})
	require.NoError(t, err)
	_, err = empty.Create(ctx, account.CreateParams{Name: "a", Package: "GO"})
	require.ErrorIs(t, err, account.ErrInvalidParams)
}
