package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
)

// countingStore counts the Touches of a SessionStore.
type countingStore struct {
	consolestore.SessionStore
	touches atomic.Int64
}

func (s *countingStore) Touch(ctx context.Context, idHash []byte, lastSeen time.Time) error {
	s.touches.Add(1)
	return s.SessionStore.Touch(ctx, idHash, lastSeen)
}

func newSessions(t *testing.T, cfg console.SessionsConfig) *console.Sessions {
	t.Helper()
	s, err := console.NewSessions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionsStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := consolestore.NewMemorySessionStore()
		sessions := newSessions(t, console.SessionsConfig{Store: store})
		ctx := t.Context()
		id, s, err := sessions.Start(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
		if err != nil || len(raw) != 32 || len(id) != 43 {
			t.Fatalf("session ID %q: %d bytes, %v; want 256 bits as base64url without padding", id, len(raw), err)
		}
		if now := time.Now(); s.Username != "alice" || !s.Created.Equal(now) || !s.LastSeen.Equal(now) {
			t.Fatalf("Start = %+v", s)
		}
		// Stored under the SHA-256 hash of the ID's bytes, not under the ID.
		h := sha256.Sum256(raw)
		if got, err := store.Get(ctx, h[:]); err != nil || got.Username != "alice" {
			t.Fatalf("the store under the ID's hash: %+v, %v", got, err)
		}
		for _, key := range [][]byte{[]byte(id), raw} {
			if _, err := store.Get(ctx, key); !errors.Is(err, consolestore.ErrNoSession) {
				t.Fatalf("the store holds the session under the ID itself: %v", err)
			}
		}
		id2, _, err := sessions.Start(ctx, "alice")
		if err != nil || id2 == id {
			t.Fatalf("a second session: %q, %v", id2, err)
		}
		if _, _, err := sessions.Start(ctx, ""); err == nil {
			t.Fatal("a session without a user name")
		}
	})
}

func TestSessionsResumeRefusesOtherIDs(t *testing.T) {
	sessions := newSessions(t, console.SessionsConfig{})
	ctx := t.Context()
	id, _, err := sessions.Start(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := sessions.Resume(ctx, id); err != nil || s.Username != "alice" {
		t.Fatalf("Resume = %+v, %v", s, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(id)
	// The last character carries 4 bits of the ID and 2 zero bits; a
	// character with those 2 bits set decodes leniently to the same ID.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", id[42])
	nonCanonical := id[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	for name, other := range map[string]string{
		"empty":          "",
		"padded":         id + "=",
		"shorter":        id[:42],
		"longer":         id + "A",
		"standard b64":   base64.RawStdEncoding.EncodeToString(append([]byte{0xfb, 0xff}, raw[2:]...)),
		"non-canonical":  nonCanonical,
		"another ID":     base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"hex of the ID":  strings.Repeat("ab", 32),
		"with a space":   " " + id[1:],
		"the CSRF token": console.CSRFToken(id),
	} {
		t.Run(name, func(t *testing.T) {
			if other == id {
				t.Fatal("not another ID")
			}
			if s, err := sessions.Resume(ctx, other); !errors.Is(err, consolestore.ErrNoSession) || s.Username != "" {
				t.Fatalf("Resume(%q) = %+v, %v; want ErrNoSession", other, s, err)
			}
		})
	}
}

func TestSessionsIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := consolestore.NewMemorySessionStore()
		store := &countingStore{SessionStore: mem}
		sessions := newSessions(t, console.SessionsConfig{Store: store})
		ctx := t.Context()
		id, _, err := sessions.Start(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		// Idle for exactly the idle timeout: still live, and touched.
		time.Sleep(console.DefaultIdleTimeout)
		s, err := sessions.Resume(ctx, id)
		if err != nil || !s.LastSeen.Equal(time.Now()) || store.touches.Load() != 1 {
			t.Fatalf("after %v idle: %+v, %v, %d touches", console.DefaultIdleTimeout, s, err, store.touches.Load())
		}
		// Idle for longer: ended, and deleted.
		time.Sleep(console.DefaultIdleTimeout + time.Nanosecond)
		if _, err := sessions.Resume(ctx, id); !errors.Is(err, consolestore.ErrNoSession) {
			t.Fatalf("after idling too long: %v, want ErrNoSession", err)
		}
		if s := mem.String(); s != "consolestore.MemorySessionStore(0 sessions)" {
			t.Fatalf("the idle session was not deleted: %s", s)
		}
	})
}

func TestSessionsTouchAtMostOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &countingStore{SessionStore: consolestore.NewMemorySessionStore()}
		sessions := newSessions(t, console.SessionsConfig{Store: store})
		ctx := t.Context()
		id, started, err := sessions.Start(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			time.Sleep(10 * time.Second)
			s, err := sessions.Resume(ctx, id)
			if err != nil || !s.LastSeen.Equal(started.LastSeen) {
				t.Fatalf("Resume within a minute: %+v, %v", s, err)
			}
		}
		if n := store.touches.Load(); n != 0 {
			t.Fatalf("%d touches within the first minute, want 0", n)
		}
		time.Sleep(10 * time.Second) // a minute since the start
		s, err := sessions.Resume(ctx, id)
		if err != nil || !s.LastSeen.Equal(time.Now()) || store.touches.Load() != 1 {
			t.Fatalf("Resume a minute on: %+v, %v, %d touches", s, err, store.touches.Load())
		}
		// The touch is stored: the next Resume sees it.
		time.Sleep(time.Second)
		if s2, err := sessions.Resume(ctx, id); err != nil || !s2.LastSeen.Equal(s.LastSeen) {
			t.Fatalf("the next Resume: %+v, %v; want LastSeen %v", s2, err, s.LastSeen)
		}
	})
}

func TestSessionsAbsoluteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sessions := newSessions(t, console.SessionsConfig{})
		ctx := t.Context()
		id, _, err := sessions.Start(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		// Used every 10 minutes, it lasts the absolute timeout, no more.
		for elapsed := time.Duration(0); elapsed < console.DefaultAbsoluteTimeout; {
			step := min(10*time.Minute, console.DefaultAbsoluteTimeout-elapsed)
			time.Sleep(step)
			elapsed += step
			if _, err := sessions.Resume(ctx, id); err != nil {
				t.Fatalf("in use after %v: %v", elapsed, err)
			}
		}
		time.Sleep(time.Nanosecond)
		if _, err := sessions.Resume(ctx, id); !errors.Is(err, consolestore.ErrNoSession) {
			t.Fatalf("after the absolute timeout: %v, want ErrNoSession", err)
		}
	})
}

func TestSessionsConfiguredTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sessions := newSessions(t, console.SessionsConfig{IdleTimeout: 5 * time.Minute, AbsoluteTimeout: 20 * time.Minute, TouchInterval: time.Hour})
		if sessions.IdleTimeout() != 5*time.Minute || sessions.AbsoluteTimeout() != 20*time.Minute {
			t.Fatalf("timeouts %v, %v", sessions.IdleTimeout(), sessions.AbsoluteTimeout())
		}
		ctx := t.Context()
		id, s, err := sessions.Start(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got := sessions.Expires(s); !got.Equal(time.Now().Add(5 * time.Minute)) {
			t.Fatalf("Expires = %v", got)
		}
		// A touch interval beyond the idle timeout is cut to it, so that a
		// session in use lives on.
		for range 3 {
			time.Sleep(5 * time.Minute)
			if _, err := sessions.Resume(ctx, id); err != nil {
				t.Fatalf("in use: %v", err)
			}
		}
		time.Sleep(5 * time.Minute)
		if s, err = sessions.Resume(ctx, id); err != nil {
			t.Fatalf("in use: %v", err)
		}
		if got := sessions.Expires(s); !got.Equal(s.Created.Add(20 * time.Minute)) {
			t.Fatalf("Expires near the absolute end = %v", got)
		}
		time.Sleep(time.Nanosecond)
		if _, err := sessions.Resume(ctx, id); !errors.Is(err, consolestore.ErrNoSession) {
			t.Fatalf("after the absolute timeout: %v", err)
		}
	})
	for _, cfg := range []console.SessionsConfig{{IdleTimeout: -1}, {AbsoluteTimeout: -1}, {TouchInterval: -1}} {
		if _, err := console.NewSessions(cfg); err == nil {
			t.Errorf("NewSessions(%+v) accepted a negative duration", cfg)
		}
	}
}

func TestSessionsEndAndDeleteUser(t *testing.T) {
	sessions := newSessions(t, console.SessionsConfig{})
	ctx := t.Context()
	start := func(user string) string {
		id, _, err := sessions.Start(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a1, a2, b := start("alice"), start("alice"), start("bob")
	if err := sessions.End(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Resume(ctx, a1); !errors.Is(err, consolestore.ErrNoSession) {
		t.Fatalf("an ended session's ID: %v, want ErrNoSession", err)
	}
	for _, id := range []string{a1, "", "malformed"} {
		if err := sessions.End(ctx, id); err != nil {
			t.Fatalf("End(%q): %v", id, err)
		}
	}
	if _, err := sessions.Resume(ctx, a2); err != nil {
		t.Fatalf("the user's other session: %v", err)
	}
	a3 := start("alice")
	if err := sessions.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a2, a3} {
		if _, err := sessions.Resume(ctx, id); !errors.Is(err, consolestore.ErrNoSession) {
			t.Fatalf("signed out everywhere, a session lives on: %v", err)
		}
	}
	if _, err := sessions.Resume(ctx, b); err != nil {
		t.Fatalf("another user's session: %v", err)
	}
}

func TestSessionsDeleteExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := consolestore.NewMemorySessionStore()
		sessions := newSessions(t, console.SessionsConfig{Store: store})
		ctx := t.Context()
		idle, _, _ := sessions.Start(ctx, "idle")
		used, _, _ := sessions.Start(ctx, "used")
		time.Sleep(20 * time.Minute)
		if _, err := sessions.Resume(ctx, used); err != nil {
			t.Fatal(err)
		}
		fresh, _, _ := sessions.Start(ctx, "fresh")
		time.Sleep(10*time.Minute + time.Nanosecond)
		n, err := sessions.DeleteExpired(ctx)
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpired = %d, %v; want the idle session", n, err)
		}
		if s := store.String(); s != "consolestore.MemorySessionStore(2 sessions)" {
			t.Fatalf("after the sweep: %s", s)
		}
		if _, err := sessions.Resume(ctx, idle); !errors.Is(err, consolestore.ErrNoSession) {
			t.Fatalf("the idle session: %v", err)
		}
		for _, id := range []string{used, fresh} {
			if _, err := sessions.Resume(ctx, id); err != nil {
				t.Fatalf("a live session: %v", err)
			}
		}
	})
}

// failingSessionStore fails every call, as a database that is down does.
type failingSessionStore struct{}

func (failingSessionStore) Create(context.Context, []byte, consolestore.Session) error {
	return errDown
}
func (failingSessionStore) Get(context.Context, []byte) (consolestore.Session, error) {
	return consolestore.Session{}, errDown
}
func (failingSessionStore) Touch(context.Context, []byte, time.Time) error { return errDown }
func (failingSessionStore) Delete(context.Context, []byte) error           { return errDown }
func (failingSessionStore) DeleteUser(context.Context, string) error       { return errDown }
func (failingSessionStore) DeleteExpired(context.Context, time.Time, time.Time) (int, error) {
	return 0, errDown
}

func TestSessionsStoreFailure(t *testing.T) {
	sessions := newSessions(t, console.SessionsConfig{Store: failingSessionStore{}})
	ctx := t.Context()
	if _, _, err := sessions.Start(ctx, "alice"); !errors.Is(err, errDown) {
		t.Fatalf("Start: %v", err)
	}
	id := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	if _, err := sessions.Resume(ctx, id); !errors.Is(err, errDown) || errors.Is(err, consolestore.ErrNoSession) {
		t.Fatalf("Resume: %v, want the store's failure", err)
	}
	if err := sessions.End(ctx, id); !errors.Is(err, errDown) {
		t.Fatalf("End: %v", err)
	}
	if err := sessions.DeleteUser(ctx, "alice"); !errors.Is(err, errDown) {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := sessions.DeleteExpired(ctx); !errors.Is(err, errDown) {
		t.Fatalf("DeleteExpired: %v", err)
	}
}

func TestCSRFTokens(t *testing.T) {
	sessions := newSessions(t, console.SessionsConfig{})
	a, _, err := sessions.Start(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := sessions.Start(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	ta, tb := console.CSRFToken(a), console.CSRFToken(b)
	if ta != console.CSRFToken(a) {
		t.Fatal("the token of one session changes")
	}
	if ta == tb || strings.Contains(ta, a) || strings.Contains(a, ta) {
		t.Fatalf("tokens %q and %q of sessions %q and %q", ta, tb, a, b)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(ta); err != nil || len(ta) != 43 {
		t.Fatalf("token %q: want 256 bits as base64url", ta)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	stored := sha256.Sum256(raw)
	if ta == base64.RawURLEncoding.EncodeToString(stored[:]) {
		t.Fatal("the token is the stored hash of the ID")
	}
	if !console.CheckCSRF(a, ta) || !console.CheckCSRF(b, tb) {
		t.Fatal("CheckCSRF refuses a session's own token")
	}
	flipped := []byte(ta)
	flipped[0] ^= 1
	for name, tc := range map[string][2]string{
		"another session's": {a, tb},
		"empty token":       {a, ""},
		"empty ID":          {"", ta},
		"both empty":        {"", ""},
		"the ID itself":     {a, a},
		"one char changed":  {a, string(flipped)},
		"a prefix":          {a, ta[:42]},
		"padded":            {a, ta + "="},
		"empty ID's token":  {"", console.CSRFToken("")},
	} {
		if console.CheckCSRF(tc[0], tc[1]) {
			t.Errorf("%s: CheckCSRF accepted", name)
		}
	}
}

func TestSessionsStartSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := consolestore.NewMemorySessionStore()
		sessions := newSessions(t, console.SessionsConfig{Store: store, AbsoluteTimeout: 10 * time.Minute})
		ctx := t.Context()
		start := func(user string) {
			t.Helper()
			if _, _, err := sessions.Start(ctx, user); err != nil {
				t.Fatal(err)
			}
		}
		want := func(n int) {
			t.Helper()
			if s, w := store.String(), fmt.Sprintf("consolestore.MemorySessionStore(%d sessions)", n); s != w {
				t.Fatalf("at %v: %s, want %s", time.Now(), s, w)
			}
		}
		start("alice") // the first Start sweeps (nothing)
		time.Sleep(10*time.Minute + time.Nanosecond)
		start("bob") // alice's session has ended, but no sweep is due
		want(2)
		time.Sleep(20*time.Minute - time.Nanosecond)
		start("carol") // an idle timeout since the last sweep: both ended sessions go
		want(1)
	})
}
