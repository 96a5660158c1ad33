package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keygate/keygate/password"
	"github.com/keygate/keygate/passworduser"
)

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordUsersKeepsOnlyHashes(t *testing.T) {
	users, err := NewPasswordUsers(PasswordUsersConfig{Params: cheap})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add(context.Background(), "dave", "dave's password", User{Subject: "u", Account: "a"}); err != nil {
		t.Fatal(err)
	}
	st := users.state()
	rec, err := st.store.Get(context.Background(), "dave")
	if err != nil {
		t.Fatal(err)
	}
	h := rec.PasswordHash
	if !strings.HasPrefix(h, fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", cheap.Memory, cheap.Time, cheap.Threads)) || strings.Contains(h, "dave's password") {
		t.Fatalf("stored %q", h)
	}
	def, err := NewPasswordUsers(PasswordUsersConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if got := def.state().params; got != password.DefaultParams {
		t.Fatalf("default params %+v", got)
	}
}

// heldStore is a UserStore whose Gets of "slow" wait, inside the password
// check, until gate closes.
type heldStore struct {
	passworduser.Store
	started chan struct{}
	gate    chan struct{}
}

func (s heldStore) Get(ctx context.Context, username string) (passworduser.Record, error) {
	if username == "slow" {
		s.started <- struct{}{}
		<-s.gate
	}
	return s.Store.Get(ctx, username)
}

func TestPasswordUsersBoundsConcurrentChecks(t *testing.T) {
	store := heldStore{Store: passworduser.NewMemoryStore(), started: make(chan struct{}, 2), gate: make(chan struct{})}
	users, err := NewPasswordUsers(PasswordUsersConfig{Store: store, Params: cheap, MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add(context.Background(), "dave", "pw", User{Subject: "u", Account: "a"}); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 2)
	for range 2 { // two checks under way
		go func() {
			_, err := users.Authenticate(context.Background(), "slow", "pw")
			held <- err
		}()
		<-store.started
	}
	if _, err := users.Authenticate(context.Background(), "dave", "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("with every slot taken: %v, want ErrBusy", err)
	}
	close(store.gate)
	for range 2 {
		if err := <-held; !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("held check: %v, want ErrBadCredentials", err)
		}
	}
	if _, err := users.Authenticate(context.Background(), "dave", "pw"); err != nil {
		t.Fatalf("with a free slot: %v", err)
	}
}
