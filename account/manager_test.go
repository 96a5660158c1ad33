package account_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
)

// clock is a settable clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// changeLog collects the changes a manager reports.
type changeLog struct {
	mu      sync.Mutex
	changes []keygate.Change
}

func (l *changeLog) record(_ context.Context, c keygate.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

// take returns the changes reported since the last call.
func (l *changeLog) take() []keygate.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.changes
	l.changes = nil
	return out
}

type env struct {
	m     *account.Manager
	clock *clock
	log   *changeLog
	store account.Store
}

func newEnv(t *testing.T, store account.Store) *env {
	t.Helper()
	e := &env{clock: &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}, log: &changeLog{}, store: store}
	m, err := account.NewManager(account.Config{Store: store, Now: e.clock.Now, OnChange: e.log.record})
	require.NoError(t, err)
	e.m = m
	return e
}

var generatedID = regexp.MustCompile(`^acct_[0-9A-Za-z]{16}$`)

func ptr[T any](v T) *T { return &v }

func TestCreate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := keygate.WithActor(context.Background(), "admin_1")
	a, err := e.m.Create(ctx, account.CreateParams{Name: "Shop – café", Package: "GO"})
	require.NoError(t, err)
	assert.Regexp(t, generatedID, a.ID)
	assert.Len(t, a.ID, account.IDLen)
	assert.Equal(t, account.Account{ID: a.ID, Name: "Shop – café", Package: "GO", Created: e.clock.Now(), Updated: e.clock.Now(), Version: 1}, a)
	assert.Equal(t, []keygate.Change{{Action: keygate.ActionAccountCreated, Time: e.clock.Now(), Actor: "admin_1", Account: a.ID}}, e.log.take())

	got, err := e.m.Get(context.Background(), a.ID)
	require.NoError(t, err)
	assert.Equal(t, a, got)

	b, err := e.m.Create(context.Background(), account.CreateParams{Name: "Shop 2"})
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, b.ID)
	assert.Empty(t, b.Package)
	assert.Equal(t, "", e.log.take()[0].Actor, "no actor in the context")

	// A chosen ID; taking it twice is a duplicate, and nothing is reported.
	c, err := e.m.Create(ctx, account.CreateParams{ID: "crm:4711", Name: "Imported"})
	require.NoError(t, err)
	assert.Equal(t, "crm:4711", c.ID)
	e.log.take()
	_, err = e.m.Create(ctx, account.CreateParams{ID: "crm:4711", Name: "Again"})
	require.ErrorIs(t, err, account.ErrExists)
	assert.Empty(t, e.log.take())
}

func TestCreateInvalid(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name string
		p    account.CreateParams
	}{
		{"no name", account.CreateParams{}},
		{"name too long", account.CreateParams{Name: strings.Repeat("x", account.MaxNameLen+1)}},
		{"name with a newline", account.CreateParams{Name: "a\nb"}},
		{"name not UTF-8", account.CreateParams{Name: "\xff"}},
		{"ID with a space", account.CreateParams{ID: "acct 1", Name: "a"}},
		{"ID too long", account.CreateParams{ID: strings.Repeat("a", 129), Name: "a"}},
		{"package with a slash", account.CreateParams{Name: "a", Package: "GO/PLUS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.m.Create(context.Background(), tc.p)
			require.ErrorIs(t, err, account.ErrInvalidParams)
		})
	}
	_, err := e.m.Create(context.Background(), account.CreateParams{Name: strings.Repeat("é", account.MaxNameLen/2)})
	require.NoError(t, err, "200 bytes of text")
	assert.Len(t, e.log.take(), 1, "only the valid account is reported")
	as, err := e.m.List(context.Background(), account.ListFilter{})
	require.NoError(t, err)
	assert.Len(t, as, 1)
}

// collidingStore refuses the first n creates as duplicates.
type collidingStore struct {
	account.Store
	n   int
	ids []string
}

func (s *collidingStore) Create(ctx context.Context, a account.Account) (account.Account, error) {
	s.ids = append(s.ids, a.ID)
	if len(s.ids) <= s.n {
		return account.Account{}, account.ErrExists
	}
	return s.Store.Create(ctx, a)
}

func TestCreateRetriesGeneratedIDs(t *testing.T) {
	s := &collidingStore{Store: account.NewMemoryStore(), n: 2}
	e := newEnv(t, s)
	a, err := e.m.Create(context.Background(), account.CreateParams{Name: "a"})
	require.NoError(t, err)
	require.Len(t, s.ids, 3)
	assert.Equal(t, s.ids[2], a.ID)
	assert.NotEqual(t, s.ids[0], s.ids[1], "a fresh ID for each attempt")

	s = &collidingStore{Store: account.NewMemoryStore(), n: 10}
	e = newEnv(t, s)
	_, err = e.m.Create(context.Background(), account.CreateParams{Name: "a"})
	require.ErrorIs(t, err, account.ErrExists, "gives up after a few attempts")
	assert.Len(t, s.ids, 4)
	assert.Empty(t, e.log.take())
}

func TestGetMissing(t *testing.T) {
	e := newEnv(t, nil)
	for _, id := range []string{"acct_unknown", "", "not an id", strings.Repeat("a", 200)} {
		_, err := e.m.Get(context.Background(), id)
		assert.ErrorIs(t, err, account.ErrNotFound, "%q", id)
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := keygate.WithActor(context.Background(), "admin_1")
	a, err := e.m.Create(ctx, account.CreateParams{Name: "Shop", Package: "GO"})
	require.NoError(t, err)
	created := e.clock.Now()
	e.log.take()

	e.clock.Advance(time.Hour)
	u, err := e.m.Update(ctx, a.ID, account.Changes{Name: ptr("Shop 2")})
	require.NoError(t, err)
	assert.Equal(t, account.Account{ID: a.ID, Name: "Shop 2", Package: "GO", Created: created, Updated: e.clock.Now(), Version: 2}, u)
	assert.Equal(t, []keygate.Change{{Action: keygate.ActionAccountUpdated, Time: e.clock.Now(), Actor: "admin_1", Account: a.ID}}, e.log.take())

	e.clock.Advance(time.Hour)
	u, err = e.m.Update(ctx, a.ID, account.Changes{Package: ptr("")})
	require.NoError(t, err)
	assert.Equal(t, "", u.Package, "a pointer to the empty string removes the package")
	assert.Equal(t, int64(3), u.Version)
	assert.Len(t, e.log.take(), 1)

	// Changes to what is there already store and report nothing.
	updated := u.Updated
	e.clock.Advance(time.Hour)
	for _, c := range []account.Changes{{}, {Name: ptr("Shop 2")}, {Name: ptr("Shop 2"), Package: ptr("")}} {
		same, err := e.m.Update(ctx, a.ID, c)
		require.NoError(t, err)
		assert.Equal(t, u, same)
	}
	assert.Empty(t, e.log.take())
	got, err := e.m.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(3), got.Version)
	assert.Equal(t, updated, got.Updated)
}

func TestUpdateInvalid(t *testing.T) {
	e := newEnv(t, nil)
	a, err := e.m.Create(context.Background(), account.CreateParams{Name: "Shop"})
	require.NoError(t, err)
	for _, c := range []account.Changes{
		{Name: ptr("")},
		{Name: ptr(strings.Repeat("x", 201))},
		{Name: ptr("tab\there")},
		{Package: ptr("GO PLUS")},
		{Name: ptr("fine"), Package: ptr("bad/pkg")},
	} {
		_, err := e.m.Update(context.Background(), a.ID, c)
		assert.ErrorIs(t, err, account.ErrInvalidParams)
	}
	_, err = e.m.Update(context.Background(), "acct_unknown", account.Changes{Name: ptr("x")})
	assert.ErrorIs(t, err, account.ErrNotFound)
	_, err = e.m.Update(context.Background(), "not an id", account.Changes{Name: ptr("x")})
	assert.ErrorIs(t, err, account.ErrNotFound)
	e.log.take()
	got, err := e.m.Get(context.Background(), a.ID)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	assert.Empty(t, e.log.take())
}

// conflictingStore makes the first n updates lose a race: another writer
// changes the package just before.
type conflictingStore struct {
	account.Store
	n int
}

func (s *conflictingStore) Update(ctx context.Context, a account.Account) (account.Account, error) {
	if s.n > 0 {
		s.n--
		cur, err := s.Store.Get(ctx, a.ID)
		if err != nil {
			return account.Account{}, err
		}
		cur.Package = "OTHER"
		if _, err := s.Store.Update(ctx, cur); err != nil {
			return account.Account{}, err
		}
	}
	return s.Store.Update(ctx, a)
}

func TestUpdateRetriesConflicts(t *testing.T) {
	s := &conflictingStore{Store: account.NewMemoryStore()}
	e := newEnv(t, s)
	a, err := e.m.Create(context.Background(), account.CreateParams{Name: "Shop", Package: "GO"})
	require.NoError(t, err)
	s.n = 3
	u, err := e.m.Update(context.Background(), a.ID, account.Changes{Name: ptr("renamed")})
	require.NoError(t, err)
	assert.Equal(t, "renamed", u.Name)
	assert.Equal(t, "OTHER", u.Package, "the retry applies the change to what the other writer stored")
	assert.Equal(t, int64(5), u.Version)

	s.n = 1000
	_, err = e.m.Update(context.Background(), a.ID, account.Changes{Name: ptr("again")})
	assert.ErrorIs(t, err, account.ErrConflict, "gives up under endless contention")
}

func TestConcurrentUpdates(t *testing.T) {
	e := newEnv(t, nil)
	a, err := e.m.Create(context.Background(), account.CreateParams{Name: "Shop"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := strings.Repeat("n", i+1)
			_, err := e.m.Update(context.Background(), a.ID, account.Changes{Name: &name})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	got, err := e.m.Get(context.Background(), a.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(1)+int64(len(e.log.take()))-1, got.Version, "one version per reported change")
}

func TestList(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var want []string
	for range 5 {
		a, err := e.m.Create(ctx, account.CreateParams{Name: "a"})
		require.NoError(t, err)
		want = append(want, a.ID)
		e.clock.Advance(time.Second)
	}
	var got []string
	f := account.ListFilter{Limit: 2}
	for {
		page, err := e.m.List(ctx, f)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		assert.LessOrEqual(t, len(page), 2)
		for _, a := range page {
			got = append(got, a.ID)
		}
		f.AfterCreated, f.AfterID = page[len(page)-1].Created, page[len(page)-1].ID
	}
	assert.Equal(t, want, got)

	for _, f := range []account.ListFilter{{Limit: -1}, {AfterID: "bad id"}, {AfterID: strings.Repeat("a", 129)}, {Search: "a\x00"}, {Search: strings.Repeat("a", account.MaxNameLen+1)}, {Search: "\xff"}} {
		_, err := e.m.List(ctx, f)
		assert.ErrorIs(t, err, account.ErrInvalidParams, "%+v", f)
	}
}

// failingStore fails every call.
type failingStore struct{ err error }

func (s failingStore) Create(context.Context, account.Account) (account.Account, error) {
	return account.Account{}, s.err
}
func (s failingStore) Get(context.Context, string) (account.Account, error) {
	return account.Account{}, s.err
}
func (s failingStore) Update(context.Context, account.Account) (account.Account, error) {
	return account.Account{}, s.err
}
func (s failingStore) List(context.Context, account.ListFilter) ([]account.Account, error) {
	return nil, s.err
}

func TestStoreErrors(t *testing.T) {
	boom := errors.New("store down")
	e := newEnv(t, failingStore{boom})
	ctx := context.Background()
	_, err := e.m.Create(ctx, account.CreateParams{Name: "a"})
	assert.ErrorIs(t, err, boom)
	_, err = e.m.Get(ctx, "acct_1")
	assert.ErrorIs(t, err, boom)
	_, err = e.m.Update(ctx, "acct_1", account.Changes{Name: ptr("b")})
	assert.ErrorIs(t, err, boom)
	_, err = e.m.List(ctx, account.ListFilter{})
	assert.ErrorIs(t, err, boom)
	assert.Empty(t, e.log.take())

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	e = newEnv(t, nil)
	_, err = e.m.Create(cancelled, account.CreateParams{Name: "a"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, e.log.take())
}

func TestNewManagerDefaults(t *testing.T) {
	m, err := account.NewManager(account.Config{})
	require.NoError(t, err)
	before := time.Now()
	a, err := m.Create(context.Background(), account.CreateParams{Name: "a"})
	require.NoError(t, err)
	assert.False(t, a.Created.Before(before.Round(0)), "the system clock")
	_, err = m.Get(context.Background(), a.ID)
	require.NoError(t, err, "an in-memory store")
}
