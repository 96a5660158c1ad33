package sqlite_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/internal/testpackages"
	"github.com/keygate/keygate/middleware"
	"github.com/keygate/keygate/sqlite"
	"github.com/keygate/keygate/sqlstore"
	"github.com/keygate/keygate/sqlstore/sqlstoretest"
)

// openAuditBench opens the kept database of BenchmarkAudit's events
// (KEYGATE_BENCH_AUDIT_EVENTS, default 1,000,000, of the 24 hours before
// auditBenchEnd), loading it first when it is not there yet (about a
// minute for a million events). It is closed when the benchmark ends.
func openAuditBench(b *testing.B) (*sqlstore.DB, sqlstoretest.AuditPopulation) {
	b.Helper()
	n := auditBenchEvents(b)
	ctx := context.Background()
	// v4: the schema with the console's tables (a v3 file was loaded
	// under a placeholder migration 0007 and lacks them).
	path := filepath.Join(os.TempDir(), fmt.Sprintf("keygate-bench-audit-v4-%d.db", n))
	if _, err := os.Stat(path); err != nil {
		// Load into a new file, renamed into place once complete.
		tmp := path + fmt.Sprintf(".%d.tmp", os.Getpid())
		db, err := sqlite.Open(ctx, tmp)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		sqlstoretest.PopulateAudit(b, db, n, auditBenchEnd)
		b.Logf("loaded %d audit events in %v", n, time.Since(start).Round(time.Second))
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	return db, sqlstoretest.AuditPopulationOf(n, auditBenchEnd)
}

// The console users of BenchmarkConsolePages.
const (
	benchOperator = "bench-operator"
	benchOwner    = "bench-owner"
	benchPassword = "bench password 1"
)

// consoleBench is the console over the kept audit database, with a signed-in
// operator and account owner.
type consoleBench struct {
	handler         http.Handler
	operator, owner string // session IDs
	ownerAccount    string
	key             string // a populated key, stored as a real key of ownerAccount
}

// newConsoleBench builds the reference server's stack over db: the
// account, API key and HMAC managers over its SQL stores, an Authenticator
// with the retail packages, the admin API with db's audit history, and the
// console with the history and its summaries, console users and sessions
// in db, its clock at the population's end. It stores the population's
// accounts and keys (with the IDs the events name; kept for the next run),
// a key pending review and one expiring soon, and signs an operator and
// the owner of one account in through the sign-in form.
func newConsoleBench(b *testing.B, db *sqlstore.DB, p sqlstoretest.AuditPopulation) *consoleBench {
	b.Helper()
	ctx := keygate.WithActor(context.Background(), "bench")
	now := func() time.Time { return p.End }
	packages := testpackages.Retail()
	created := p.End.Add(-30 * 24 * time.Hour)
	for _, id := range p.Accounts {
		_, err := db.Accounts().Create(ctx, account.Account{ID: id, Name: "Bench " + id, Package: testpackages.Go,
			Created: created, Updated: created})
		if err != nil && !errors.Is(err, account.ErrExists) {
			b.Fatal(err)
		}
	}
	// The keys of the events, as PopulateAudit assigns their accounts and
	// modes, and two more for the overview's lists.
	recs := make([]apikey.Record, 0, len(p.KeyIDs)+2)
	for k, id := range p.KeyIDs {
		recs = append(recs, apikey.Record{ID: id, Grant: keygate.Grant{
			Account: p.Accounts[k%len(p.Accounts)],
			Mode:    keygate.Mode(p.Modes[(k/len(p.Accounts))%2]),
			Package: testpackages.Go,
		},
			Kind: keygate.KindSecret, Name: "bench key " + id,
			CreatedBy: "bench", Status: apikey.StatusActive, Created: created})
	}
	recs = append(recs,
		apikey.Record{ID: "kid_benchpending", Grant: keygate.Grant{
			Account: p.Accounts[1],
			Mode:    keygate.ModeLive,
		}, Kind: keygate.KindSecret,
			CreatedBy: "bench", Status: apikey.StatusPendingReview, Created: created},
		apikey.Record{ID: "kid_benchexpiring", Grant: keygate.Grant{
			Account: p.Accounts[1],
			Mode:    keygate.ModeTest,
		}, Kind: keygate.KindSecret,
			CreatedBy: "bench", Status: apikey.StatusActive, Created: created, Expires: p.End.Add(72 * time.Hour)})
	for _, rec := range recs {
		if _, err := db.APIKeys().Create(ctx, rec); err != nil && !errors.Is(err, apikey.ErrExists) {
			b.Fatal(err)
		}
	}

	accounts, err := account.NewManager(account.Config{Store: db.Accounts(), Packages: packages.Names()})
	if err != nil {
		b.Fatal(err)
	}
	keys, err := apikey.NewManager(apikey.Config{Store: db.APIKeys()})
	if err != nil {
		b.Fatal(err)
	}
	hmacs, err := httpsig.NewManager(httpsig.Config{Store: db.HMACCredentials(), MasterKey: randomKey(b)})
	if err != nil {
		b.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{APIKeys: keys, Accounts: accounts,
		Access: middleware.AccessConfig{Packages: packages}})
	if err != nil {
		b.Fatal(err)
	}
	sink := db.Audit()
	adm, err := admin.New(admin.Config{Prefix: "/admin/v1", Auth: auth, Accounts: accounts, Keys: keys, HMAC: hmacs,
		Audit: sink, SeparateReview: true})
	if err != nil {
		b.Fatal(err)
	}
	users, err := console.NewUsers(console.UsersConfig{Store: db.ConsoleUsers(), Now: now})
	if err != nil {
		b.Fatal(err)
	}
	sessions, err := console.NewSessions(console.SessionsConfig{Store: db.ConsoleSessions(), Now: now})
	if err != nil {
		b.Fatal(err)
	}
	cb := &consoleBench{ownerAccount: p.Accounts[1]}
	for k, id := range p.KeyIDs {
		if p.Accounts[k%len(p.Accounts)] == cb.ownerAccount {
			cb.key = id
		}
	}
	for _, u := range []consolestore.User{
		{Username: benchOperator, Role: consolestore.RoleOperator, Permissions: []string{admin.PermissionRead, admin.PermissionWrite, admin.PermissionReview}},
		{Username: benchOwner, Role: consolestore.RoleOwner, Account: cb.ownerAccount},
	} {
		if err := users.Add(ctx, u, benchPassword); err != nil {
			b.Fatal(err)
		}
	}
	c, err := console.New(console.Config{Prefix: "/console", Admin: adm, Auth: auth, Users: users, Sessions: sessions,
		History: sink, Summary: sink, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console/", c)
	mux.Handle("/admin/v1/", adm)
	cb.handler = mux
	cb.operator = cb.signIn(b, benchOperator)
	cb.owner = cb.signIn(b, benchOwner)
	b.Cleanup(func() {
		for _, id := range []string{cb.operator, cb.owner} {
			if err := sessions.End(context.Background(), id); err != nil {
				b.Errorf("End: %v", err)
			}
		}
	})
	return cb
}

// randomKey returns a new HMAC master key.
func randomKey(b *testing.B) []byte {
	k := make([]byte, httpsig.MasterKeyLen)
	if _, err := rand.Read(k); err != nil {
		b.Fatal(err)
	}
	return k
}

// signIn posts the console's sign-in form as a same-origin browser on
// loopback would, and returns the session ID of the cookie it sets.
func (cb *consoleBench) signIn(b *testing.B, username string) string {
	b.Helper()
	form := url.Values{"username": {username}, "password": {benchPassword}}
	r := httptest.NewRequest(http.MethodPost, "/console/signin", strings.NewReader(form.Encode()))
	r.Host = "127.0.0.1"
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://127.0.0.1")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	cb.handler.ServeHTTP(w, r)
	res := w.Result()
	for _, ck := range res.Cookies() {
		if ck.Name == console.SessionCookie && ck.Value != "" {
			if res.StatusCode != http.StatusSeeOther {
				b.Fatalf("sign in as %s: status %d", username, res.StatusCode)
			}
			return ck.Value
		}
	}
	body, _ := io.ReadAll(res.Body)
	b.Fatalf("sign in as %s: status %d, no session cookie:\n%s", username, res.StatusCode, body)
	return ""
}

// get serves one GET of target with the session, as a browser on loopback
// sends it.
func (cb *consoleBench) get(session, target string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "127.0.0.1"
	r.RemoteAddr = "127.0.0.1:40000"
	r.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: session})
	w := httptest.NewRecorder()
	cb.handler.ServeHTTP(w, r)
	return w
}

// olderLink finds the audit page's link to the next (older) page.
var olderLink = regexp.MustCompile(`<a href="([^"]*)" rel="next">Older</a>`)

// BenchmarkConsolePages measures the console's pages, served whole (the
// session's check, the admin API's reads, the summaries and the template)
// over the kept database of BenchmarkAudit: 1,000,000 audit events by
// default (KEYGATE_BENCH_AUDIT_EVENTS). The target is at most 100 ms a
// page. The first run loads the database (see BenchmarkAudit).
//
//	cd sqlite && GOWORK=off go test -run '^$' -bench BenchmarkConsolePages -benchtime 20x
func BenchmarkConsolePages(b *testing.B) {
	db, p := openAuditBench(b)
	cb := newConsoleBench(b, db, p)
	key := cb.key
	rows := func(n int) func(string) error {
		return func(body string) error {
			if got := strings.Count(body, ">Details</a>"); got != n {
				return fmt.Errorf("%d events listed, want %d", got, n)
			}
			return nil
		}
	}
	has := func(s ...string) func(string) error {
		return func(body string) error {
			for _, s := range s {
				if !strings.Contains(body, s) {
					return fmt.Errorf("the page lacks %q", s)
				}
			}
			return nil
		}
	}
	// charts: every chart counts requests.
	charts := func(ids ...string) func(string) error {
		return func(body string) error {
			for _, id := range ids {
				if !strings.Contains(body, `id="`+id+`-cap"`) {
					return fmt.Errorf("the page lacks the chart %s", id)
				}
			}
			if strings.Contains(body, " 0 allowed, 0 denied</figcaption>") {
				return errors.New("a chart counts no request")
			}
			return nil
		}
	}
	both := func(a, c func(string) error) func(string) error {
		return func(body string) error {
			if err := a(body); err != nil {
				return err
			}
			return c(body)
		}
	}
	since, until := p.End.Add(-12*time.Hour).Format(time.RFC3339), p.End.Add(-6*time.Hour).Format(time.RFC3339)
	keyRange := url.Values{"key_id": {key}, "since": {since}, "until": {until}}
	denyRange := url.Values{"decision": {"deny"}, "since": {since}, "until": {until}}
	// The second page of denials, by the first page's link.
	first := cb.get(cb.operator, "/console/audit?decision=deny").Body.String()
	m := olderLink.FindStringSubmatch(first)
	if m == nil {
		b.Fatalf("the first page of denials has no link to the next:\n%s", first)
	}
	page2 := html.UnescapeString(m[1])
	// A key of another account than the owner's: the owner's filter by
	// it matches nothing, after reading all of the key's events.
	otherKey := p.KeyIDs[0]
	pages := []struct {
		name, session, target string
		check                 func(body string) error
	}{
		// The overviews: charts of every mode, the top deny reasons, the
		// pending and the expiring key.
		{"overview/operator", cb.operator, "/console/",
			both(charts("chart-test-hour", "chart-test-day", "chart-live-hour", "chart-live-day", "chart-none-day"),
				has("rate_limited", "kid_benchexpiring"))},
		{"overview/owner", cb.owner, "/console/",
			both(charts("chart-test-hour", "chart-test-day", "chart-live-hour", "chart-live-day"),
				has("rate_limited", "kid_benchexpiring"))},
		{"audit/newest", cb.operator, "/console/audit", rows(100)},
		{"audit/key", cb.operator, "/console/audit?key_id=" + key, both(rows(100), has(key))},
		{"audit/deny", cb.operator, "/console/audit?decision=deny", both(rows(100), has("invalid_key"))},
		{"audit/deny-page-2", cb.operator, page2, both(rows(100), has("invalid_key"))},
		{"audit/key-and-range", cb.operator, "/console/audit?" + keyRange.Encode(), both(rows(100), has(key))},
		{"audit/deny-and-range", cb.operator, "/console/audit?" + denyRange.Encode(), both(rows(100), has("invalid_key"))},
		{"audit/account", cb.operator, "/console/audit?account=" + cb.ownerAccount, both(rows(100), has(cb.ownerAccount))},
		{"audit/reason", cb.operator, "/console/audit?reason=revoked", both(rows(100), has("revoked"))},
		{"audit/ip", cb.operator, "/console/audit?ip=198.51.100.7", both(rows(100), has("198.51.100.7"))},
		{"audit/action", cb.operator, "/console/audit?action=key.rotated", both(rows(100), has("key.rotated"))},
		{"audit/owner", cb.owner, "/console/audit", both(rows(100), has(cb.ownerAccount))},
		{"audit/owner-other-key", cb.owner, "/console/audit?key_id=" + otherKey, both(rows(0), has("No events match."))},
		{"key/operator", cb.operator, "/console/keys/" + key, both(charts("chart-key-day"), has(key))},
		{"key/owner", cb.owner, "/console/keys/" + key, both(charts("chart-key-day"), has(key))},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			w := cb.get(pg.session, pg.target)
			if w.Code != http.StatusOK {
				b.Fatalf("GET %s: status %d:\n%s", pg.target, w.Code, w.Body)
			}
			if err := pg.check(w.Body.String()); err != nil {
				b.Fatalf("GET %s: %v:\n%s", pg.target, err, w.Body)
			}
			n := 0
			for b.Loop() {
				n++
				if w := cb.get(pg.session, pg.target); w.Code != http.StatusOK {
					b.Fatalf("GET %s: status %d", pg.target, w.Code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(n), "ms/op")
		})
	}
}
