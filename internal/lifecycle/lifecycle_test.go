package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

type status string

type record struct {
	ID                                    string
	Grant                                 keygate.Grant
	Status                                status
	Disabled                              bool
	RevokedAt, RotatedAt, TokensNotBefore time.Time
	Secrets                               []string
	Version                               int
}

var (
	errExists        = errors.New("exists")
	errConflict      = errors.New("conflict")
	errInvalidParams = errors.New("invalid params")
	errInvalidState  = errors.New("invalid state")
	errRevoked       = errors.New("revoked")
	errNotFound      = errors.New("not found")
)

// memory is a compare-and-swap store of records; conflicts makes its next
// Updates fail with errConflict, and exists its next Creates with
// errExists.
type memory struct {
	recs              map[string]record
	conflicts, exists int
}

func (s *memory) get(_ context.Context, id string) (record, error) {
	r, ok := s.recs[id]
	if !ok {
		return record{}, errNotFound
	}
	r.Secrets = slices.Clone(r.Secrets)
	return r, nil
}

func (s *memory) create(_ context.Context, r record) (record, error) {
	if s.exists > 0 {
		s.exists--
		return record{}, errExists
	}
	r.Version = 1
	s.recs[r.ID] = r
	return r, nil
}

func (s *memory) update(_ context.Context, r record) (record, error) {
	if s.conflicts > 0 {
		s.conflicts--
		return record{}, errConflict
	}
	if s.recs[r.ID].Version != r.Version {
		return record{}, errConflict
	}
	r.Version++
	s.recs[r.ID] = r
	return r, nil
}

var t0 = time.Unix(1767225600, 0)

func newManager() (*Manager[record, status], *memory, *[]keygate.Change) {
	s := &memory{recs: map[string]record{}}
	var changes []keygate.Change
	m := &Manager[record, status]{
		Name: "test", Noun: "thing", Revoked: "revoked",
		Fields: func(r *record) Fields[status] {
			return Fields[status]{ID: &r.ID, Grant: &r.Grant, Status: &r.Status, Disabled: &r.Disabled,
				RevokedAt: &r.RevokedAt, RotatedAt: &r.RotatedAt, TokensNotBefore: &r.TokensNotBefore}
		},
		Store:    Store[record]{Get: s.get, Create: s.create, Update: s.update},
		Retries:  2,
		Now:      func() time.Time { return t0 },
		OnChange: func(_ context.Context, c keygate.Change) { changes = append(changes, c) },
		Errors: Errors{Exists: errExists, Conflict: errConflict, InvalidParams: errInvalidParams,
			InvalidState: errInvalidState, Revoked: errRevoked},
		Actions: Actions{Created: "created", Rotated: "rotated", Revoked: "revoked", Disabled: "disabled", Enabled: "enabled"},
	}
	return m, s, &changes
}

func (m *Manager[R, S]) mustCreate(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Create(ctx, func() R {
		var r R
		*m.Fields(&r).ID = id
		m.Fields(&r).Grant.Account = "acct_1"
		return r
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCreate(t *testing.T) {
	ctx := keygate.WithActor(context.Background(), "alice")
	for _, tc := range []struct {
		name    string
		exists  int
		wantErr error
		minted  int
	}{
		{"first ID free", 0, nil, 1},
		{"three collisions", 3, nil, 4},
		{"four collisions", 4, errExists, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s, changes := newManager()
			s.exists = tc.exists
			minted := 0
			r, err := m.Create(ctx, func() record {
				minted++
				return record{ID: fmt.Sprint("id", minted), Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}}
			})
			if minted != tc.minted {
				t.Errorf("minted %d records, want %d", minted, tc.minted)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "test: create: ") || len(*changes) != 0 {
					t.Errorf("err = %q, changes %v", err, *changes)
				}
				return
			}
			want := keygate.Change{Action: "created", Time: t0, Actor: "alice", KeyID: r.ID, Account: "acct_1", Mode: keygate.ModeTest}
			if r.ID != fmt.Sprint("id", tc.minted) || len(*changes) != 1 || (*changes)[0] != want {
				t.Errorf("created %+v, changes %+v", r, *changes)
			}
		})
	}
}

func TestUpdateRetriesConflicts(t *testing.T) {
	for _, tc := range []struct {
		conflicts int
		wantErr   error
		calls     int
	}{{0, nil, 1}, {2, nil, 3}, {3, errConflict, 3}} {
		m, s, _ := newManager()
		m.mustCreate(t, "k")
		s.conflicts = tc.conflicts
		calls := 0
		r, err := m.Update(context.Background(), "k", func(r *record) error {
			calls++
			r.Disabled = true
			return nil
		})
		if !errors.Is(err, tc.wantErr) || calls != tc.calls {
			t.Errorf("%d conflicts: err %v after %d calls, want %v after %d", tc.conflicts, err, calls, tc.wantErr, tc.calls)
		}
		if err == nil && (!r.Disabled || !s.recs["k"].Disabled) {
			t.Errorf("%d conflicts: not stored: %+v", tc.conflicts, r)
		}
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	m, _, changes := newManager()
	m.mustCreate(t, "k")
	if _, err := m.Rotate(ctx, "k", -time.Second, nil); !errors.Is(err, errInvalidParams) {
		t.Errorf("negative grace: %v", err)
	}
	r, err := m.Rotate(ctx, "k", time.Minute, func(r *record, now time.Time) error {
		r.Secrets = append(r.Secrets, now.String())
		return nil
	})
	if err != nil || !r.RotatedAt.Equal(t0) || !r.TokensNotBefore.IsZero() || len(r.Secrets) != 1 {
		t.Fatalf("with grace: %+v, %v", r, err)
	}
	if r, err = m.Rotate(ctx, "k", 0, func(*record, time.Time) error { return nil }); err != nil || !r.TokensNotBefore.Equal(t0) {
		t.Errorf("without grace: %+v, %v", r, err)
	}
	if got := len(*changes); got != 3 || (*changes)[2].Action != "rotated" {
		t.Errorf("changes %+v", *changes)
	}
	mine := errors.New("not mine")
	if _, err := m.Rotate(ctx, "k", 0, func(*record, time.Time) error { return mine }); !errors.Is(err, mine) || !strings.HasPrefix(err.Error(), "test: rotate: ") {
		t.Errorf("rotate's error: %v", err)
	}
	if _, err := m.Revoke(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rotate(ctx, "k", 0, func(*record, time.Time) error { return nil }); !errors.Is(err, errRevoked) {
		t.Errorf("revoked: %v", err)
	}
}

func TestKeep(t *testing.T) {
	type secret struct {
		name     string
		notAfter time.Time
	}
	end := func(s *secret) *time.Time { return &s.notAfter }
	names := func(ss []secret) string {
		var b []string
		for _, s := range ss {
			b = append(b, s.name)
		}
		return strings.Join(b, " ")
	}
	prev := []secret{{"current", time.Time{}}, {"old", t0.Add(time.Hour)}, {"expired", t0}, {"older", t0.Add(time.Minute)}}
	for _, tc := range []struct {
		grace time.Duration
		max   int
		want  string
	}{
		{0, 4, "new old older"},
		{time.Second, 4, "new current old older"},
		{time.Second, 2, "new current old"},
		{time.Second, 0, "new"},
	} {
		got := Keep(secret{name: "new"}, slices.Clone(prev), end, t0, tc.grace, tc.max)
		if names(got) != tc.want {
			t.Errorf("grace %v, max %d: %q, want %q", tc.grace, tc.max, names(got), tc.want)
		}
		if tc.grace > 0 && tc.max > 0 && !got[1].notAfter.Equal(t0.Add(tc.grace)) {
			t.Errorf("grace %v: the current secret ends at %v", tc.grace, got[1].notAfter)
		}
	}
}

func TestRevokeAndDisable(t *testing.T) {
	ctx := context.Background()
	m, _, changes := newManager()
	m.mustCreate(t, "k")
	r, err := m.SetDisabled(ctx, "k", true)
	if err != nil || !r.Disabled || !r.TokensNotBefore.Equal(t0) {
		t.Fatalf("disable: %+v, %v", r, err)
	}
	if _, err = m.SetDisabled(ctx, "k", true); err != nil { // no change, no event
		t.Fatal(err)
	}
	if r, err = m.SetDisabled(ctx, "k", false); err != nil || r.Disabled {
		t.Fatalf("enable: %+v, %v", r, err)
	}
	alsoCalls := 0
	for range 2 { // the second changes nothing but also runs
		r, err = m.Revoke(ctx, "k", func(r *record) { alsoCalls++; r.Secrets = nil })
		if err != nil || r.Status != "revoked" || !r.RevokedAt.Equal(t0) {
			t.Fatalf("revoke: %+v, %v", r, err)
		}
	}
	if alsoCalls != 2 {
		t.Errorf("also ran %d times", alsoCalls)
	}
	_, err = m.SetDisabled(ctx, "k", true)
	if !errors.Is(err, errInvalidState) || err.Error() != "test: set disabled: invalid state: the thing is revoked" {
		t.Errorf("disable a revoked record: %v", err)
	}
	var actions []keygate.Action
	for _, c := range *changes {
		actions = append(actions, c.Action)
	}
	if want := []keygate.Action{"created", "disabled", "enabled", "revoked"}; !slices.Equal(actions, want) {
		t.Errorf("actions %v, want %v", actions, want)
	}
	if _, err := m.Get(ctx, "nope"); !errors.Is(err, errNotFound) || !strings.HasPrefix(err.Error(), "test: get: ") {
		t.Errorf("get: %v", err)
	}
}

func TestList(t *testing.T) {
	m, _, _ := newManager()
	cloned := 0
	m.Clone = func(r record) record { cloned++; return r }
	listed := []record{{ID: "a"}, {ID: "b"}}
	for _, tc := range []struct {
		name string
		f    Filter
		own  string
		want string // the error's reason; "" for none
	}{
		{"fine", Filter{Account: "acct_1", Mode: keygate.ModeLive, AfterID: "a", Limit: 2}, "", ""},
		{"account first", Filter{Account: "acct 1", Mode: "x", Limit: -1}, "own", "account must be"},
		{"mode before own", Filter{Mode: "x", Limit: -1}, "own", "mode must be \"test\" or \"live\""},
		{"own before after ID", Filter{AfterID: "a b", Limit: -1}, "status must be", "status must be"},
		{"after ID", Filter{AfterID: "a b", Limit: -1}, "", "after ID must be"},
		{"limit", Filter{Limit: -1}, "", "limit must not be negative"},
	} {
		cloned = 0
		rs, err := m.List(tc.f, tc.own, func() ([]record, error) { return slices.Clone(listed), nil })
		if tc.want == "" {
			if err != nil || len(rs) != 2 || cloned != 2 {
				t.Errorf("%s: %v, %v, %d cloned", tc.name, rs, err, cloned)
			}
			continue
		}
		if !errors.Is(err, errInvalidParams) || !strings.HasPrefix(err.Error(), "invalid params: "+tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := m.List(Filter{}, "", func() ([]record, error) { return nil, errNotFound }); !errors.Is(err, errNotFound) || !strings.HasPrefix(err.Error(), "test: list: ") {
		t.Errorf("store error: %v", err)
	}
}
