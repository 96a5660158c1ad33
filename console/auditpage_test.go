package console_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// auditRows returns the number of rows of the audit table.
func auditRows(body string) int { return strings.Count(body, `<td class="mono">20`) }

// link returns the unescaped href of the anchor with text.
func link(t *testing.T, body, text string) string {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]*)"[^>]*>` + regexp.QuoteMeta(text) + `</a>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link %q in:\n%s", text, body)
	}
	return html.UnescapeString(m[1])
}

// fillAudit writes 250 request events of key_a (acct_shop), three of its
// management events, and events of acct_other.
func fillAudit(e *testEnv) {
	base := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	var es []audit.Event
	for i := range 250 {
		es = append(es, audit.Event{Time: base.Add(time.Duration(i) * time.Second), Method: "GET", Path: "/v1/things",
			KeyID: "key_a", Account: "acct_shop", Mode: "test", Decision: audit.Allow, Status: 200, IP: "198.51.100.7"})
	}
	for _, a := range []string{"key.created", "key.rotated", "key.revoked"} {
		es = append(es, audit.Event{Time: base.Add(time.Hour), Action: a, Actor: "console:olivia", KeyID: "key_a", Account: "acct_shop"})
	}
	es = append(es, audit.Event{Time: base.Add(2 * time.Hour), Method: "GET", Path: "/v1/secret-other", KeyID: "key_o",
		Account: "acct_other", Mode: "live", Decision: audit.Deny, Reason: "other_account_reason", IP: "203.0.113.9"})
	e.write(es...)
}

func TestAuditPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	fillAudit(e)
	c := e.signedIn(opName, opPass)

	p := c.get("/console/audit?key_id=key_a&action=key.rotated")
	p.want(t, http.StatusOK, `name="key_id"`, `value="key_a"`, "<code>key.rotated</code>", "console:olivia")
	p.lacks(t, "<code>key.created</code>", "<code>key.revoked</code>")
	if n := auditRows(p.body); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}

	// Newest first, 100 a page, cursor links keep the filters.
	p = c.get("/console/audit?key_id=key_a&decision=allow")
	p.want(t, http.StatusOK, "2030-01-02 03:04:09 UTC", `<option value="allow" selected>`)
	if n := auditRows(p.body); n != 100 {
		t.Fatalf("page 1: %d rows", n)
	}
	if first, last := strings.Index(p.body, "03:04:09"), strings.Index(p.body, "03:02:30"); first < 0 || last < first {
		t.Error("not newest first")
	}
	p.lacks(t, ">Newest<")
	next := link(t, p.body, "Older")
	if !strings.Contains(next, "key_id=key_a") || !strings.Contains(next, "decision=allow") || !strings.Contains(next, "cursor=") {
		t.Errorf("next link %q", next)
	}
	p = c.get(next)
	if n := auditRows(p.body); n != 100 {
		t.Fatalf("page 2: %d rows", n)
	}
	p = c.get(link(t, p.body, "Older"))
	if n := auditRows(p.body); n != 50 {
		t.Fatalf("page 3: %d rows", n)
	}
	p.want(t, http.StatusOK, ">Newest<", "2030-01-02 03:00:00 UTC")
	p.lacks(t, ">Older<")

	// The details of an event on a later page.
	detail := link(t, p.body, "Details")
	d := c.get(detail)
	d.want(t, http.StatusOK, "<h1>Audit event ", "<dt>Client IP</dt><dd class=\"mono\">198.51.100.7</dd>", "Back to the list")
	if back := link(t, d.body, "Back to the list"); !strings.Contains(back, "cursor=") || !strings.Contains(back, "key_id=key_a") {
		t.Errorf("back link %q", back)
	}
}

func TestAuditEventNotFound(t *testing.T) {
	e := newEnv(t, envOptions{})
	fillAudit(e)
	c := e.signedIn(opName, opPass)
	for _, target := range []string{
		"/console/audit/event", "/console/audit/event?seq=0", "/console/audit/event?seq=x", "/console/audit/event?seq=-1",
		"/console/audit/event?seq=99999", "/console/audit/event?seq=1&ip=bad", "/console/audit/event?seq=1&key_id=key_o",
	} {
		c.get(target).want(t, http.StatusNotFound, "<h1>Not Found</h1>")
	}
}

func TestAuditBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(opName, opPass)
	for _, tt := range []struct {
		query string
		has   string
	}{
		{"ip=not-an-ip", `id="ip-error"`},
		{"since=yesterday", `id="since-error"`},
		{"until=2030-13-45", `id="until-error"`},
		{"decision=maybe", `decision must be`},
		{"cursor=%00%01", `class="alert error"`},
		{"cursor=bogus", `class="alert error"`},
		{"key_id=" + strings.Repeat("k", 300), `id="key-error"`},
		{"action=a%20b", `id="action-error"`},
	} {
		t.Run(tt.query, func(t *testing.T) {
			p := c.get("/console/audit?" + tt.query)
			p.want(t, http.StatusBadRequest, tt.has, "<h1>Audit</h1>", `name="key_id"`)
		})
	}
	// Times in either form are accepted.
	for _, q := range []string{"since=2030-01-02+03:04", "since=2030-01-02T03:04", "until=2030-01-02T03:04:05Z", "since=2030-01-02"} {
		c.get("/console/audit?"+q).want(t, http.StatusOK)
	}
}

func TestAuditHostileStringsEscaped(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.write(audit.Event{Time: time.Now(), Method: "GET", Path: `/v1/"><script>alert(1)</script>`, Account: "acct_shop",
		Decision: audit.Deny, Reason: `<img src=x onerror=alert(1)>`, UserAgent: `'"</script><svg onload=alert(1)>`,
		Headers: map[string]string{"X-Evil": `<iframe src="javascript:alert(1)">`}})
	c := e.signedIn(opName, opPass)
	p := c.get("/console/audit?decision=deny")
	p.want(t, http.StatusOK, "&lt;img src=x onerror=alert(1)&gt;")
	p.lacks(t, "<img src=x", "<script>alert", "<svg onload")
	d := c.get(link(t, p.body, "Details"))
	d.want(t, http.StatusOK, "&lt;iframe", "&lt;/script&gt;&lt;svg onload=alert(1)&gt;")
	d.lacks(t, "<img src=x", "<script>alert", "<svg onload", "<iframe")
	// A hostile filter value is escaped in the form and the links.
	f := c.get(`/console/audit?reason=%22%3E%3Cscript%3Ealert(1)%3C/script%3E`)
	f.lacks(t, "<script>alert")
}

func TestAuditOwnerConfined(t *testing.T) {
	e := newEnv(t, envOptions{})
	fillAudit(e)
	c := e.signedIn(ownerName, ownerPass)
	for _, target := range []string{"/console/audit", "/console/audit?account=acct_other", "/console/audit?key_id=key_o"} {
		p := c.get(target)
		p.want(t, http.StatusOK, `<span class="mono">acct_shop</span>`)
		p.lacks(t, "other_account_reason", "203.0.113.9", `name="account"`)
	}
	// The other account's event by number: not found.
	all, err := e.sink.Query(t.Context(), audit.Query{Account: "acct_other"})
	if err != nil || len(all.Events) != 1 {
		t.Fatal(err, all)
	}
	seq := all.Events[0].Seq
	c.get("/console/audit/event?seq="+itoa(seq)).want(t, http.StatusNotFound)
	c.get("/console/audit/event?seq="+itoa(seq)+"&account=acct_other").want(t, http.StatusNotFound)
	// The export holds the owner's account alone.
	x := c.get("/console/audit/export?format=jsonl&account=acct_other")
	x.want(t, http.StatusOK)
	x.lacks(t, "acct_other")
	if n := strings.Count(x.body, "\n"); n < 253 {
		t.Errorf("owner's export: %d lines, want its 253 events and its sign-in", n)
	}
}

func TestAuditNotEnabled(t *testing.T) {
	e := newEnv(t, envOptions{noHistory: true})
	c := e.signedIn(opName, opPass)
	for _, target := range []string{"/console/audit", "/console/audit/event?seq=1", "/console/audit/export?format=csv"} {
		p := c.get(target)
		p.want(t, http.StatusOK, "The audit history is not enabled on this server.")
		p.lacks(t, `name="key_id"`)
	}
}

func TestAuditExportJSONLines(t *testing.T) {
	e := newEnv(t, envOptions{})
	fillAudit(e)
	c := e.signedIn(opName, opPass)
	p := c.get("/console/audit/export?format=jsonl&key_id=key_a&cursor=ignored")
	p.want(t, http.StatusOK)
	if ct := p.Header.Get("Content-Type"); ct != "application/x-ndjson; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := p.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="keygate-audit-\d{8}T\d{6}Z\.jsonl"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	sc := bufio.NewScanner(strings.NewReader(p.body))
	n := 0
	var prev time.Time
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if ev.KeyID != "key_a" {
			t.Errorf("line %d: key %q", n+1, ev.KeyID)
		}
		if n > 0 && ev.Time.After(prev) {
			t.Errorf("line %d: not newest first", n+1)
		}
		prev = ev.Time
		n++
	}
	if n != 253 {
		t.Errorf("%d lines, want 253 (three pages of the admin API)", n)
	}
}

func TestAuditExportCSV(t *testing.T) {
	e := newEnv(t, envOptions{})
	fillAudit(e)
	e.write(audit.Event{Time: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), KeyID: "key_f", Account: "acct_shop", Decision: audit.Deny,
		Reason: "=HYPERLINK(\"http://evil.example\")", UserAgent: "+cmd", Headers: map[string]string{"X-A": "1"}})
	c := e.signedIn(opName, opPass)
	p := c.get("/console/audit/export?format=csv&account=acct_shop")
	p.want(t, http.StatusOK)
	if ct := p.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := p.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; ") || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+254 {
		t.Fatalf("%d rows, want the header and 254", len(rows))
	}
	if rows[0][0] != "seq" || rows[0][1] != "time" || rows[0][13] != "key_id" {
		t.Errorf("header %v", rows[0])
	}
	first := rows[1]
	if first[13] != "key_f" || first[5] != `'=HYPERLINK("http://evil.example")` || first[22] != "'+cmd" || first[23] != `{"X-A":"1"}` {
		t.Errorf("first row %q", first)
	}
}

func TestAuditExportRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(opName, opPass)
	c.get("/console/audit/export").want(t, http.StatusBadRequest, "The export format must be")
	c.get("/console/audit/export?format=xml").want(t, http.StatusBadRequest, "The export format must be")
	p := c.get("/console/audit/export?format=csv&ip=nope")
	p.want(t, http.StatusBadRequest, `id="ip-error"`)
	if cd := p.Header.Get("Content-Disposition"); cd != "" {
		t.Errorf("a refused export is an attachment: %q", cd)
	}
}

func TestAuditNeedsReadPermission(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.users.Add(t.Context(), consoleUser("wanda", "admin:write"), "writer password"); err != nil {
		t.Fatal(err)
	}
	c := e.signedIn("wanda", "writer password")
	c.get("/console/audit").want(t, http.StatusForbidden, "admin:read")
	c.get("/console/audit/export?format=csv").want(t, http.StatusForbidden)
}

func TestAuditRequestNames(t *testing.T) {
	e := newEnv(t, envOptions{})
	at := time.Now()
	e.write(
		audit.Event{Time: at, Method: "GET", Path: "/v1/things/42", Route: "GET /v1/things/{id}", Reason: "r1", Decision: audit.Allow},
		audit.Event{Time: at, Method: "POST", Path: "/v1/orders", Route: "/v1/orders", Reason: "r2", Decision: audit.Allow},
		audit.Event{Time: at, Method: "PUT", Path: "/v1/raw", Reason: "r3", Decision: audit.Deny},
	)
	p := e.signedIn(opName, opPass).get("/console/audit?decision=allow")
	p.want(t, http.StatusOK, "<code>GET /v1/things/{id}</code>", "<code>POST /v1/orders</code>")
	p.lacks(t, "GET GET")
	e.signedIn(opName, opPass).get("/console/audit?decision=deny").want(t, http.StatusOK, "<code>PUT /v1/raw</code>")
}
