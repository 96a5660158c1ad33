// Package ipruletest is the conformance suite for [iprule.Store]
// implementations. Every backend runs it:
//
//	func TestIPRules(t *testing.T) {
//		ipruletest.TestStore(t, func(t *testing.T) iprule.Store { return newMyStore(t) })
//	}
package ipruletest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/iprule"
)

// TestStore runs the conformance suite against stores made by newStore,
// which must return an empty store for each call. Times are whole
// microseconds in UTC, so that backends storing microsecond timestamps
// compare equal.
func TestStore(t *testing.T, newStore func(t *testing.T) iprule.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, iprule.Store)
	}{
		{"CreateGetRoundTrip", testRoundTrip},
		{"CreateDuplicateID", testDuplicateID},
		{"CreateDuplicateRule", testDuplicateRule},
		{"GetMissing", testGetMissing},
		{"ListFilterAndOrder", testList},
		{"Delete", testDelete},
		{"CancelledContext", testCancelled},
		{"ConcurrentCreateSameRule", testConcurrentCreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// base is the time the suite's rules are created at.
var base = time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)

func rule(id, acct string, a iprule.Action, cidr string, created time.Time) iprule.Rule {
	return iprule.Rule{ID: id, Account: acct, Action: a, CIDR: cidr, Note: "note of " + id, Created: created, CreatedBy: "key_admin"}
}

func mustCreate(t *testing.T, s iprule.Store, r iprule.Rule) iprule.Rule {
	t.Helper()
	got, err := s.Create(context.Background(), r)
	if err != nil {
		t.Fatalf("Create(%s): %v", r.ID, err)
	}
	return got
}

func same(t *testing.T, want, got iprule.Rule) {
	t.Helper()
	if !got.Created.Equal(want.Created) {
		t.Errorf("rule %s: Created = %v, want %v", want.ID, got.Created, want.Created)
	}
	got.Created, want.Created = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("rule = %+v, want %+v", got, want)
	}
}

func testRoundTrip(t *testing.T, s iprule.Store) {
	ctx := context.Background()
	for _, want := range []iprule.Rule{
		rule("ipr_1", "", iprule.Deny, "192.0.2.0/24", base),
		rule("ipr_2", "acct_1", iprule.Allow, "2001:db8::/32", base.Add(time.Microsecond)),
		rule("ipr_3", "acct_1", iprule.Deny, "2001:db8::1/128", base.Add(time.Second)),
	} {
		got := mustCreate(t, s, want)
		same(t, want, got)
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", want.ID, err)
		}
		same(t, want, got)
	}
}

func testDuplicateID(t *testing.T, s iprule.Store) {
	mustCreate(t, s, rule("ipr_1", "", iprule.Deny, "192.0.2.0/24", base))
	_, err := s.Create(context.Background(), rule("ipr_1", "acct_1", iprule.Allow, "198.51.100.0/24", base))
	if !errors.Is(err, iprule.ErrExists) {
		t.Fatalf("Create with a taken ID: %v, want ErrExists", err)
	}
}

func testDuplicateRule(t *testing.T, s iprule.Store) {
	ctx := context.Background()
	mustCreate(t, s, rule("ipr_1", "acct_1", iprule.Deny, "192.0.2.0/24", base))
	_, err := s.Create(ctx, rule("ipr_2", "acct_1", iprule.Deny, "192.0.2.0/24", base))
	if !errors.Is(err, iprule.ErrExists) {
		t.Fatalf("Create of the same account, action and prefix: %v, want ErrExists", err)
	}
	// The same prefix with another action, another account or
	// service-wide is another rule.
	mustCreate(t, s, rule("ipr_3", "acct_1", iprule.Allow, "192.0.2.0/24", base))
	mustCreate(t, s, rule("ipr_4", "acct_2", iprule.Deny, "192.0.2.0/24", base))
	mustCreate(t, s, rule("ipr_5", "", iprule.Deny, "192.0.2.0/24", base))
	if _, err := s.Create(ctx, rule("ipr_6", "", iprule.Deny, "192.0.2.0/24", base)); !errors.Is(err, iprule.ErrExists) {
		t.Fatalf("Create of the same service-wide rule: %v, want ErrExists", err)
	}
}

func testGetMissing(t *testing.T, s iprule.Store) {
	mustCreate(t, s, rule("ipr_1", "", iprule.Deny, "192.0.2.0/24", base))
	for _, id := range []string{"ipr_2", "IPR_1", "ipr_1 ", ""} {
		if _, err := s.Get(context.Background(), id); !errors.Is(err, iprule.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func ids(rs []iprule.Rule) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testList(t *testing.T, s iprule.Store) {
	ctx := context.Background()
	// Created out of order; two at the same time, ordered by ID.
	mustCreate(t, s, rule("ipr_c", "acct_1", iprule.Allow, "10.0.0.0/8", base.Add(2*time.Second)))
	mustCreate(t, s, rule("ipr_b", "", iprule.Deny, "192.0.2.0/24", base.Add(time.Second)))
	mustCreate(t, s, rule("ipr_a", "acct_2", iprule.Deny, "::/0", base.Add(time.Second)))
	mustCreate(t, s, rule("ipr_d", "acct_1", iprule.Deny, "10.1.0.0/16", base))
	for _, tt := range []struct {
		f    iprule.Filter
		want []string
	}{
		{iprule.Filter{}, []string{"ipr_d", "ipr_a", "ipr_b", "ipr_c"}},
		{iprule.Filter{Account: "acct_1"}, []string{"ipr_d", "ipr_c"}},
		{iprule.Filter{Account: "acct_2"}, []string{"ipr_a"}},
		{iprule.Filter{Account: "acct_3"}, []string{}},
		{iprule.Filter{ServiceWide: true}, []string{"ipr_b"}},
	} {
		got, err := s.List(ctx, tt.f)
		if err != nil {
			t.Fatalf("List(%+v): %v", tt.f, err)
		}
		if g := ids(got); !slices.Equal(g, tt.want) {
			t.Errorf("List(%+v) = %v, want %v", tt.f, g, tt.want)
		}
		for _, r := range got {
			if !tt.f.Matches(r) {
				t.Errorf("List(%+v) returned %+v", tt.f, r)
			}
		}
	}
}

func testDelete(t *testing.T, s iprule.Store) {
	ctx := context.Background()
	want := mustCreate(t, s, rule("ipr_1", "acct_1", iprule.Deny, "192.0.2.0/24", base))
	mustCreate(t, s, rule("ipr_2", "acct_1", iprule.Allow, "192.0.2.0/24", base))
	got, err := s.Delete(ctx, "ipr_1")
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	same(t, want, got)
	if _, err := s.Get(ctx, "ipr_1"); !errors.Is(err, iprule.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, "ipr_1"); !errors.Is(err, iprule.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	rest, err := s.List(ctx, iprule.Filter{})
	if err != nil || !slices.Equal(ids(rest), []string{"ipr_2"}) {
		t.Errorf("List after Delete = %v, %v; want [ipr_2]", ids(rest), err)
	}
	// The deleted rule may be added again.
	mustCreate(t, s, rule("ipr_3", "acct_1", iprule.Deny, "192.0.2.0/24", base))
}

func testCancelled(t *testing.T, s iprule.Store) {
	mustCreate(t, s, rule("ipr_1", "", iprule.Deny, "192.0.2.0/24", base))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Create(ctx, rule("ipr_2", "", iprule.Deny, "198.51.100.0/24", base)); err == nil {
		t.Error("Create with a cancelled context succeeded")
	}
	if _, err := s.Get(ctx, "ipr_1"); err == nil {
		t.Error("Get with a cancelled context succeeded")
	}
	if _, err := s.List(ctx, iprule.Filter{}); err == nil {
		t.Error("List with a cancelled context succeeded")
	}
	if _, err := s.Delete(ctx, "ipr_1"); err == nil {
		t.Error("Delete with a cancelled context succeeded")
	}
	if _, err := s.Get(context.Background(), "ipr_1"); err != nil {
		t.Errorf("the rule is gone after a cancelled Delete: %v", err)
	}
}

func testConcurrentCreate(t *testing.T, s iprule.Store) {
	const n = 8
	var wg sync.WaitGroup
	var ok, exists atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Create(context.Background(), rule("ipr_"+strconv.Itoa(i), "acct_1", iprule.Deny, "192.0.2.0/24", base))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, iprule.ErrExists):
				exists.Add(1)
			default:
				t.Errorf("Create: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || exists.Load() != n-1 {
		t.Errorf("concurrent creates of one rule: %d stored, %d ErrExists; want 1 and %d", ok.Load(), exists.Load(), n-1)
	}
}
