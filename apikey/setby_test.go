package apikey_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// TestPermissionsSetBy: Create records its actor as who set the
// permissions; an Update that changes the permissions or the package
// records its own actor; other updates, and one that sets the same
// permissions again, leave it.
func TestPermissionsSetBy(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	as := func(actor string) context.Context { return keygate.WithActor(context.Background(), actor) }
	_, rec, err := m.Create(as("alice"), params)
	require.NoError(t, err)
	assert.Equal(t, "alice", rec.PermissionsSetBy)

	name, same, wider, pkg := "renamed", []string{"products:read"}, []string{"products:read", "orders:*"}, "PRIME"
	steps := []struct {
		actor string
		c     apikey.Changes
		want  string
	}{
		{"bob", apikey.Changes{Name: &name}, "alice"},
		{"bob", apikey.Changes{Permissions: &same}, "alice"},
		{"bob", apikey.Changes{Permissions: &wider}, "bob"},
		{"carol", apikey.Changes{Package: &pkg}, "carol"},
		{"dave", apikey.Changes{Package: &pkg, Name: &name}, "carol"},
		// Narrowing to some of its permissions does not launder who
		// widened it.
		{"erin", apikey.Changes{Permissions: &same}, "carol"},
		{"frank", apikey.Changes{Permissions: &[]string{}}, "frank"}, // standard: its package's
		{"grace", apikey.Changes{Permissions: &same}, "grace"},       // back to restricted
	}
	for i, s := range steps {
		rec, err = m.Update(as(s.actor), rec.ID, s.c)
		require.NoError(t, err)
		assert.Equal(t, s.want, rec.PermissionsSetBy, "step %d", i)
		got, err := m.Get(context.Background(), rec.ID)
		require.NoError(t, err)
		assert.Equal(t, s.want, got.PermissionsSetBy, "step %d, stored", i)
	}
}

// TestApproveSeparately: neither the creator nor whoever last set the
// permissions may approve; anyone else may, and Approve does not check.
func TestApproveSeparately(t *testing.T) {
	m, _ := newManager(t, apikey.Config{})
	as := func(actor string) context.Context { return keygate.WithActor(context.Background(), actor) }
	p := params
	p.Mode = keygate.ModeLive
	_, rec, err := m.Create(as("alice"), p)
	require.NoError(t, err)
	wider := []string{"products:read", "orders:read"}
	_, err = m.Update(as("bob"), rec.ID, apikey.Changes{Permissions: &wider})
	require.NoError(t, err)
	for _, who := range []string{"alice", "bob"} {
		_, err := m.ApproveSeparately(context.Background(), rec.ID, who)
		require.ErrorIs(t, err, apikey.ErrSameActor, who)
	}
	got, err := m.Get(context.Background(), rec.ID)
	require.NoError(t, err)
	assert.Equal(t, apikey.StatusPendingReview, got.Status)
	got, err = m.ApproveSeparately(context.Background(), rec.ID, "carol")
	require.NoError(t, err)
	assert.Equal(t, apikey.StatusActive, got.Status)
	assert.Equal(t, "carol", got.ApprovedBy)

	_, rec, err = m.Create(as("alice"), p)
	require.NoError(t, err)
	got, err = m.Approve(context.Background(), rec.ID, "alice")
	require.NoError(t, err, "Approve leaves separation to its caller")
	assert.Equal(t, apikey.StatusActive, got.Status)
}

// TestWideningBeyondPermissions: stores, origin rules and the expiry also
// widen a key, for separation of duties; narrowing them does not.
func TestWideningBeyondPermissions(t *testing.T) {
	m, c := newManager(t, apikey.Config{})
	as := func(actor string) context.Context { return keygate.WithActor(context.Background(), actor) }
	p := params
	p.Stores, p.AllowedIPs, p.DeniedIPs, p.Expires = []string{"store_1"}, []string{"10.0.0.0/8"}, []string{"10.9.0.0/16"}, c.Now().Add(time.Hour)
	_, rec, err := m.Create(as("alice"), p)
	require.NoError(t, err)
	list := func(s ...string) *[]string { return &s }
	later, sooner := c.Now().Add(2*time.Hour), c.Now().Add(30*time.Minute)
	for i, s := range []struct {
		actor string
		c     apikey.Changes
		want  string
	}{
		{"bob", apikey.Changes{Stores: list("store_1", "store_2")}, "bob"},
		{"carol", apikey.Changes{Stores: list("store_2")}, "bob"},
		{"carol", apikey.Changes{AllowedIPs: list("10.1.0.0/16")}, "carol"}, // a new entry
		{"dave", apikey.Changes{AllowedIPs: &[]string{}}, "dave"},           // cleared: any address
		{"erin", apikey.Changes{DeniedIPs: &[]string{}}, "erin"},            // an address no longer denied
		{"frank", apikey.Changes{Expires: &later}, "frank"},
		{"grace", apikey.Changes{Expires: &sooner}, "frank"},
		{"heidi", apikey.Changes{Expires: &time.Time{}}, "heidi"}, // never expires
	} {
		rec, err = m.Update(as(s.actor), rec.ID, s.c)
		require.NoError(t, err, "step %d", i)
		assert.Equal(t, s.want, rec.PermissionsSetBy, "step %d", i)
	}
}
