package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/passworduser"
)

func TestPasswordUsers(t *testing.T) {
	ctx := t.Context()
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: fastHash})
	require.NoError(t, err)
	alice := oauth.User{Subject: aliceSubject, Account: testAccount}
	require.NoError(t, users.Add(context.Background(), "alice", alicePassword, alice))

	got, err := users.Authenticate(ctx, "alice", alicePassword)
	require.NoError(t, err)
	assert.Equal(t, alice, got)

	for name, tc := range map[string][2]string{
		"wrong password":        {"alice", alicePassword + "x"},
		"empty password":        {"alice", ""},
		"password prefix":       {"alice", alicePassword[:len(alicePassword)-1]},
		"unknown user":          {"bob", alicePassword},
		"name in another case":  {"ALICE", alicePassword},
		"empty name":            {"", alicePassword},
		"the dummy's password":  {"nobody", "unknown user"},
		"password over MaxLen":  {"alice", strings.Repeat("x", password.MaxLen+1)},
		"NUL inside the name":   {"alice\x00", alicePassword},
		"password plus NUL":     {"alice", alicePassword + "\x00"},
		"name with a space":     {"alice ", alicePassword},
		"password with a space": {"alice", " " + alicePassword},
	} {
		t.Run(name, func(t *testing.T) {
			u, err := users.Authenticate(ctx, tc[0], tc[1])
			require.ErrorIs(t, err, oauth.ErrBadCredentials)
			assert.Equal(t, oauth.User{}, u)
			if tc[1] != "" {
				assert.NotContains(t, err.Error(), tc[1])
			}
		})
	}
}

func TestPasswordUsersAdd(t *testing.T) {
	ctx := t.Context()
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: fastHash})
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		name string
		user oauth.User
	}{
		"no name":    {"", oauth.User{Subject: "s", Account: "a"}},
		"no subject": {"n", oauth.User{Account: "a"}},
		"no account": {"n", oauth.User{Subject: "s"}},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, users.Add(context.Background(), tc.name, "pw", tc.user))
		})
	}
	t.Run("password over MaxLen", func(t *testing.T) {
		long := strings.Repeat("x", password.MaxLen+1)
		err := users.Add(context.Background(), "long", long, oauth.User{Subject: "s", Account: "a"})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), long)
		_, err = users.Authenticate(ctx, "long", long)
		assert.ErrorIs(t, err, oauth.ErrBadCredentials)
	})

	t.Run("replace", func(t *testing.T) {
		require.NoError(t, users.Add(context.Background(), "carol", "first password", oauth.User{Subject: "u1", Account: "a"}))
		require.NoError(t, users.Add(context.Background(), "carol", "second password", oauth.User{Subject: "u2", Account: "b"}))
		_, err := users.Authenticate(ctx, "carol", "first password")
		assert.ErrorIs(t, err, oauth.ErrBadCredentials)
		u, err := users.Authenticate(ctx, "carol", "second password")
		require.NoError(t, err)
		assert.Equal(t, oauth.User{Subject: "u2", Account: "b"}, u)
	})

	t.Run("only hashes are kept", func(t *testing.T) {
		require.NoError(t, users.Add(context.Background(), "dave", "dave's distinctive password", oauth.User{Subject: "u3", Account: "a"}))
		type holder struct{ u *oauth.PasswordUsers }
		var dump string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			dump += fmt.Sprintf(verb, users) + fmt.Sprintf(verb, holder{users})
		}
		assert.NotContains(t, dump, "dave's distinctive password")
		assert.NotContains(t, dump, "$argon2id$", "neither passwords nor their hashes print")
		assert.NotContains(t, dump, "dave", "nor the user names")
	})
}

func TestPasswordUsersDefaultParams(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes with 64 MiB")
	}
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: password.Params{}})
	require.NoError(t, err)
	require.NoError(t, users.Add(context.Background(), "erin", "erin's password", oauth.User{Subject: "u", Account: "a"}))
	u, err := users.Authenticate(t.Context(), "erin", "erin's password")
	require.NoError(t, err)
	assert.Equal(t, "u", u.Subject)
}

func TestPasswordUsersContext(t *testing.T) {
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: fastHash})
	require.NoError(t, err)
	require.NoError(t, users.Add(context.Background(), "alice", alicePassword, oauth.User{Subject: aliceSubject, Account: testAccount}))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = users.Authenticate(ctx, "alice", alicePassword)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, oauth.ErrBadCredentials, "a cancelled request is not a wrong password")
}

func TestPasswordUsersConcurrent(t *testing.T) {
	ctx := t.Context()
	// Room for every goroutine: this test is about races, not the bound.
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Params: fastHash, MaxConcurrent: 8})
	require.NoError(t, err)
	require.NoError(t, users.Add(context.Background(), "alice", alicePassword, oauth.User{Subject: aliceSubject, Account: testAccount}))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("user%d", i)
			if err := users.Add(ctx, name, "pw", oauth.User{Subject: name, Account: testAccount}); err != nil {
				errs <- err
			}
			for range 4 {
				if _, err := users.Authenticate(ctx, "alice", alicePassword); err != nil {
					errs <- err
				}
				if u, err := users.Authenticate(ctx, name, "pw"); err != nil || u.Subject != name {
					errs <- fmt.Errorf("%s: %v %v", name, u, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// failingUserStore fails every call, as a database that is down does.
type failingUserStore struct{}

func (failingUserStore) Put(context.Context, passworduser.Record) error {
	return errors.New("store down")
}
func (failingUserStore) Get(context.Context, string) (passworduser.Record, error) {
	return passworduser.Record{}, errors.New("store down")
}

func TestPasswordUsersStoreFailure(t *testing.T) {
	users, err := oauth.NewPasswordUsers(oauth.PasswordUsersConfig{Store: failingUserStore{}, Params: fastHash})
	require.NoError(t, err)
	require.Error(t, users.Add(t.Context(), "alice", alicePassword, oauth.User{Subject: "s", Account: "a"}))
	_, err = users.Authenticate(t.Context(), "alice", alicePassword)
	require.Error(t, err)
	assert.NotErrorIs(t, err, oauth.ErrBadCredentials, "a store failure is not a wrong password: fail closed with 503, not invalid_grant")
	assert.NotContains(t, err.Error(), alicePassword)
}
