package console_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
)

// requests writes n request events of account and mode with decision
// (and reason for denials) at t.
func requests(n int, at time.Time, acct, mode string, d audit.Decision, reason string) []audit.Event {
	es := make([]audit.Event, n)
	for i := range es {
		es[i] = audit.Event{Time: at, Method: "GET", Path: "/v1/things", Account: acct, Mode: mode, Decision: d, Reason: reason}
	}
	return es
}

// figure returns the caption of the chart with id.
func figure(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<figcaption id="` + id + `-cap">([^<]*)</figcaption>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no chart %s in:\n%s", id, body)
	}
	return m[1]
}

func TestOverview(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Now().UTC()
	e.write(requests(3, now.Add(-10*time.Minute), "acct_shop", "test", audit.Allow, "")...)
	e.write(requests(2, now.Add(-20*time.Minute), "acct_shop", "test", audit.Deny, "rate_limited")...)
	e.write(requests(4, now.Add(-5*time.Hour), "acct_shop", "live", audit.Allow, "")...)
	e.write(requests(5, now.Add(-3*time.Hour), "acct_other", "test", audit.Deny, "insufficient_scope")...)
	e.write(requests(1, now.Add(-30*time.Minute), "", "", audit.Deny, "invalid_token")...)
	e.write(requests(7, now.Add(-30*time.Hour), "acct_shop", "test", audit.Allow, "")...) // too old
	ctx := keygate.WithActor(context.Background(), "test")
	for _, acct := range []string{"acct_shop", "acct_other"} {
		if _, _, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: acct, Mode: keygate.ModeLive}, Kind: keygate.KindSecret}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_other", Mode: keygate.ModeLive}, Kind: keygate.KindSecret}); err != nil {
		t.Fatal(err)
	}

	p := e.signedIn(opName, opPass).get("/console/")
	p.want(t, http.StatusOK, "<h1>Overview</h1>", `<svg class="chart"`, `class="bar-allow"`, `class="bar-deny"`,
		"Keys waiting for review", `href="/console/review"`)
	for id, want := range map[string]string{
		"chart-test-hour": "Test mode, last hour: 3 allowed, 2 denied",
		"chart-test-day":  "Test mode, last 24 hours: 3 allowed, 7 denied",
		"chart-live-hour": "Live mode, last hour: 0 allowed, 0 denied",
		"chart-live-day":  "Live mode, last 24 hours: 4 allowed, 0 denied",
		"chart-none-day":  "No credential (refused before a mode was known), last 24 hours: 0 allowed, 1 denied",
	} {
		if got := figure(t, p.body, id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	if !regexp.MustCompile(`(?s)pending-h.*?<p class="big">3</p>`).MatchString(p.body) {
		t.Error("pending count is not 3")
	}
	if !regexp.MustCompile(`(?s)insufficient_scope</a></td><td class="num">5<.*rate_limited</a></td><td class="num">2<.*invalid_token</a></td><td class="num">1<`).MatchString(p.body) {
		t.Errorf("top deny reasons not in order:\n%s", p.body)
	}
	p.lacks(t, "style=")
}

func TestOverviewOwnerConfined(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Now().UTC()
	e.write(requests(3, now.Add(-10*time.Minute), "acct_shop", "test", audit.Allow, "")...)
	e.write(requests(5, now.Add(-10*time.Minute), "acct_other", "test", audit.Deny, "other_reason")...)
	e.write(requests(1, now.Add(-10*time.Minute), "", "", audit.Deny, "invalid_token")...)
	ctx := keygate.WithActor(context.Background(), "test")
	for _, acct := range []string{"acct_shop", "acct_other", "acct_other"} {
		if _, _, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: acct, Mode: keygate.ModeLive}, Kind: keygate.KindSecret}); err != nil {
			t.Fatal(err)
		}
	}
	p := e.signedIn(ownerName, ownerPass).get("/console/")
	p.want(t, http.StatusOK, "Test mode, last hour: 3 allowed, 0 denied")
	p.lacks(t, "other_reason", "invalid_token", "chart-none", `href="/console/review"`, "acct_other")
	if !regexp.MustCompile(`(?s)pending-h.*?<p class="big">1</p>`).MatchString(p.body) {
		t.Errorf("owner's pending count is not 1:\n%s", p.body)
	}
}

func TestOverviewWithoutSummary(t *testing.T) {
	e := newEnv(t, envOptions{noSummary: true})
	p := e.signedIn(opName, opPass).get("/console/")
	p.want(t, http.StatusOK, "Request charts are not enabled on this server.")
	p.lacks(t, "<svg")
}

func TestOverviewExpiringKeys(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := keygate.WithActor(context.Background(), "test")
	now := time.Now()
	soon, _, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_shop", Mode: keygate.ModeTest}, Kind: keygate.KindSecret,
		Name: `soon <b>"x"</b>`, Expires: now.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_shop", Mode: keygate.ModeTest}, Kind: keygate.KindSecret,
		Expires: now.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	p := e.signedIn(opName, opPass).get("/console/")
	p.want(t, http.StatusOK, "Keys expiring within 7 days")
	p.lacks(t, "<b>")
	p.want(t, http.StatusOK, `href="/console/keys/`+soon.ID()+`"`, "soon &lt;b&gt;&#34;x&#34;&lt;/b&gt;")
	if !regexp.MustCompile(`(?s)expiring-h.*?<p class="big">1</p>`).MatchString(p.body) {
		t.Errorf("expiring count is not 1:\n%s", p.body)
	}
}

// The overview's request counts and deny reasons are audit history: a user
// without admin:read (which the audit page and the admin API's audit route
// require) does not see them, as it does not see the audit page.
func TestOverviewNeedsReadPermission(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.write(requests(2, time.Now().UTC().Add(-10*time.Minute), "acct_shop", "test", audit.Deny, "secret_reason")...)
	if err := e.users.Add(t.Context(), consoleUser("wanda", "admin:write"), "writer password"); err != nil {
		t.Fatal(err)
	}
	p := e.signedIn("wanda", "writer password").get("/console/")
	p.want(t, http.StatusOK, "<h1>Overview</h1>")
	p.lacks(t, "secret_reason", "2 denied", `<svg class="chart"`)
}
