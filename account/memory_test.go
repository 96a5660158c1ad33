package account_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/account/accounttest"
)

func TestMemoryStoreConformance(t *testing.T) {
	accounttest.TestStore(t, func(*testing.T) account.Store { return account.NewMemoryStore() })
}

// TestMemoryStoreWallClock checks that the memory store orders by wall
// clock, as a database does, even for times with a monotonic reading.
func TestMemoryStoreWallClock(t *testing.T) {
	s := account.NewMemoryStore()
	ctx := context.Background()
	now := time.Now()
	a, err := s.Create(ctx, account.Account{ID: "acct_1", Name: "a", Created: now, Updated: now})
	if err != nil {
		t.Fatal(err)
	}
	if a.Created != now.Round(0) {
		t.Errorf("Created kept its monotonic reading: %v", a.Created)
	}
	as, err := s.List(ctx, account.ListFilter{AfterCreated: now, AfterID: "acct_0"})
	if err != nil || len(as) != 1 {
		t.Fatalf("List after a position with a monotonic reading: %v, %v", as, err)
	}
}

// brokenStore is a MemoryStore with one bug, to check that the suite
// catches it.
type brokenStore struct {
	*account.MemoryStore
	list   func(all []account.Account, f account.ListFilter) []account.Account
	update func(s *brokenStore, ctx context.Context, a account.Account) (account.Account, error)
}

func (s *brokenStore) List(ctx context.Context, f account.ListFilter) ([]account.Account, error) {
	all, err := s.MemoryStore.List(ctx, account.ListFilter{})
	if err != nil || s.list == nil {
		return s.MemoryStore.List(ctx, f)
	}
	return s.list(all, f), nil
}

func (s *brokenStore) Update(ctx context.Context, a account.Account) (account.Account, error) {
	if s.update == nil {
		return s.MemoryStore.Update(ctx, a)
	}
	return s.update(s, ctx, a)
}

// limit applies f.Limit to as.
func limit(as []account.Account, f account.ListFilter) []account.Account {
	if f.Limit > 0 && len(as) > f.Limit {
		return as[:f.Limit]
	}
	return as
}

// brokenStores are the bugs the suite must catch, with the test that
// catches each.
var brokenStores = map[string]struct {
	store  func() *brokenStore
	failed string
}{
	"ignores the position": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, f account.ListFilter) []account.Account { return limit(all, f) }}
	}, "ListPagination"},
	"ignores the limit": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, f account.ListFilter) []account.Account {
			return slices.DeleteFunc(all, func(a account.Account) bool {
				return (f.AfterID != "" || !f.AfterCreated.IsZero()) && !after(a, f.AfterCreated, f.AfterID)
			})
		}}
	}, "ListPagination"},
	"compares only times to the position": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, f account.ListFilter) []account.Account {
			return limit(slices.DeleteFunc(all, func(a account.Account) bool {
				return !f.AfterCreated.IsZero() && !a.Created.After(f.AfterCreated)
			}), f)
		}}
	}, "ListPagination"},
	"includes the position": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, f account.ListFilter) []account.Account {
			return limit(slices.DeleteFunc(all, func(a account.Account) bool {
				return !f.AfterCreated.IsZero() && after(account.Account{ID: f.AfterID, Created: f.AfterCreated}, a.Created, a.ID)
			}), f)
		}}
	}, "ListPagination"},
	"looks the position up by ID": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, f account.ListFilter) []account.Account {
			if i := slices.IndexFunc(all, func(a account.Account) bool { return a.ID == f.AfterID }); i >= 0 {
				all = all[i+1:]
			}
			return limit(all, f)
		}}
	}, "ListAfterPosition"},
	"orders by ID alone": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, _ account.ListFilter) []account.Account {
			slices.SortFunc(all, func(a, b account.Account) int { return strings.Compare(a.ID, b.ID) })
			return all
		}}
	}, "ListOrder"},
	"ignores the search": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, f account.ListFilter) []account.Account { return all }}
	}, "ListSearch"},
	"searches with case": {func() *brokenStore {
		return &brokenStore{list: func(all []account.Account, f account.ListFilter) []account.Account {
			if f.Search == "" {
				return all
			}
			return slices.DeleteFunc(all, func(a account.Account) bool {
				return !strings.Contains(a.ID, f.Search) && !strings.Contains(a.Name, f.Search)
			})
		}}
	}, "ListSearch"},
	"updates without compare-and-swap": {func() *brokenStore {
		return &brokenStore{update: func(s *brokenStore, ctx context.Context, a account.Account) (account.Account, error) {
			cur, err := s.MemoryStore.Get(ctx, a.ID)
			if err != nil {
				return account.Account{}, err
			}
			a.Version = cur.Version
			return s.MemoryStore.Update(ctx, a)
		}}
	}, "UpdateCompareAndSwap"},
	"updates without checking the context": {func() *brokenStore {
		return &brokenStore{update: func(s *brokenStore, _ context.Context, a account.Account) (account.Account, error) {
			return s.MemoryStore.Update(context.Background(), a)
		}}
	}, "CancelledContext"},
}

// after is the order of List: (Created, ID).
func after(a account.Account, t time.Time, id string) bool {
	if c := a.Created.Compare(t); c != 0 {
		return c > 0
	}
	return a.ID > id
}

// TestSuiteCatchesBrokenStores runs the suite, in a child process, against
// stores with one bug each, and checks that the right test fails.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if name := os.Getenv("ACCOUNTTEST_BROKEN"); name != "" {
		accounttest.TestStore(t, func(*testing.T) account.Store {
			s := brokenStores[name].store()
			s.MemoryStore = account.NewMemoryStore()
			return s
		})
		return
	}
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for name, b := range brokenStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesBrokenStores$", "-test.count=1")
			cmd.Env = append(os.Environ(), "ACCOUNTTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that %s", name)
			}
			if want := "--- FAIL: TestSuiteCatchesBrokenStores/" + b.failed; !strings.Contains(string(out), want) {
				t.Fatalf("a store that %s: want %q in the output:\n%s", name, want, out)
			}
		})
	}
}
