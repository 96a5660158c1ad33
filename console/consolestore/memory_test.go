package consolestore_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/console/consoletest"
)

func TestMemoryUserStore(t *testing.T) {
	consoletest.TestUserStore(t, func(*testing.T) consolestore.UserStore { return consolestore.NewMemoryUserStore() })
}

func TestMemorySessionStore(t *testing.T) {
	consoletest.TestSessionStore(t, func(*testing.T) consolestore.SessionStore { return consolestore.NewMemorySessionStore() })
}

// printed returns every way v may be printed: fmt verbs and slog.
func printed(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&b, verb+"\n", v)
	}
	slog.New(slog.NewTextHandler(&b, nil)).Info("store", "v", v)
	return b.String()
}

func TestMemoryStoresPrintNoSecrets(t *testing.T) {
	ctx := context.Background()
	users := consolestore.NewMemoryUserStore()
	const hash = "$argon2id$v=19$m=64,t=1,p=1$c2VjcmV0LXNhbHQ$c2VjcmV0LWhhc2g"
	if err := users.Put(ctx, consolestore.UserRecord{User: consolestore.User{Username: "alice-the-user", Role: consolestore.RoleOwner, Account: "acct_1"}, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	out := printed(users)
	for _, secret := range []string{hash, "c2VjcmV0", "alice-the-user"} {
		if strings.Contains(out, secret) {
			t.Fatalf("printing the user store shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "consolestore.MemoryUserStore(1 users)") {
		t.Fatalf("printing the user store:\n%s", out)
	}

	sessions := consolestore.NewMemorySessionStore()
	idHash := []byte("0123456789abcdef0123456789abcdef")
	if err := sessions.Create(ctx, idHash, consolestore.Session{Username: "alice-the-user"}); err != nil {
		t.Fatal(err)
	}
	out = printed(sessions)
	for _, secret := range []string{string(idHash), fmt.Sprintf("%x", idHash), "alice-the-user"} {
		if strings.Contains(out, secret) {
			t.Fatalf("printing the session store shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "consolestore.MemorySessionStore(1 sessions)") {
		t.Fatalf("printing the session store:\n%s", out)
	}
}
