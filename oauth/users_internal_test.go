package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keygate/keygate/password"
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

func TestPasswordUsersBoundsConcurrentChecks(t *testing.T) {
	users, err := NewPasswordUsers(PasswordUsersConfig{Params: cheap, MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add(context.Background(), "dave", "pw", User{Subject: "u", Account: "a"}); err != nil {
		t.Fatal(err)
	}
	st := users.state()
	st.slots <- struct{}{} // two checks under way
	st.slots <- struct{}{}
	if _, err := users.Authenticate(context.Background(), "dave", "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("with every slot taken: %v, want ErrBusy", err)
	}
	<-st.slots
	if _, err := users.Authenticate(context.Background(), "dave", "pw"); err != nil {
		t.Fatalf("with a free slot: %v", err)
	}
}
