package console_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/ratelimit"
)

func TestSignedOutRedirectsToSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	for _, tt := range []struct{ target, location string }{
		{"/console/", "/console/signin"},
		{"/console/audit?key_id=key_1", "/console/signin?next=%2Fconsole%2Faudit%3Fkey_id%3Dkey_1"},
		{"/console/audit/event?seq=3", "/console/signin?next=%2Fconsole%2Faudit%2Fevent%3Fseq%3D3"},
	} {
		p := c.get(tt.target)
		if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != tt.location {
			t.Errorf("GET %s: %d Location %q, want 303 %q", tt.target, p.StatusCode, p.Header.Get("Location"), tt.location)
		}
	}
	// A POST without a session goes to the sign-in page without a next.
	p := c.post("/console/signout", nil)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/console/signin" {
		t.Errorf("POST signout signed out: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
}

func TestSignInPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.client().get("/console/signin?next=%2Fconsole%2Faudit")
	p.want(t, http.StatusOK, `name="username"`, `name="password"`, `>Sign in</button>`,
		`name="next" value="/console/audit"`, `autocomplete="current-password"`)
	p.lacks(t, "needs HTTPS", ">Sign out<", ">Overview<")
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	p := c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass},
		"next": {"/console/audit?key_id=key_1"}}, nil)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/console/audit?key_id=key_1" {
		t.Fatalf("sign in: %d Location %q", p.StatusCode, p.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, k := range p.Cookies() {
		if k.Name == console.SessionCookie {
			ck = k
		}
	}
	switch {
	case ck == nil:
		t.Fatal("no session cookie")
	case ck.Path != "/" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Domain != "":
		t.Errorf("cookie %+v: want Path=/, HttpOnly, Secure, SameSite=Strict, no Domain", ck)
	case len(ck.Value) != 43:
		t.Errorf("session ID %d characters, want 43 (256 bits base64url)", len(ck.Value))
	}
	home := c.get("/console/")
	home.want(t, http.StatusOK, ">Overview<", ">Accounts<", ">Keys<", ">Review<", ">HMAC keys<", ">Tokens<", ">Audit<", ">Sign out<", opName)
	if c.csrf != console.CSRFToken(ck.Value) {
		t.Error("the page's csrf field is not the session's form token")
	}
	evs := e.events(console.ActionSignIn)
	if len(evs) != 1 || evs[0].Actor != "console:"+opName || evs[0].IP != "192.0.2.10" {
		t.Fatalf("sign-in events %+v", evs)
	}
	for _, ev := range e.events("") {
		if strings.Contains(ev.Path+ev.Actor+ev.Reason, opPass) {
			t.Errorf("event %+v holds the password", ev)
		}
	}
	// Signed in, the sign-in page goes on to the overview.
	if p := c.get("/console/signin"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/console/" {
		t.Errorf("sign-in page when signed in: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
}

func TestSignInOwnerNavigation(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(ownerName, ownerPass)
	p := c.get("/console/")
	p.want(t, http.StatusOK, ">Overview<", `href="/console/accounts/acct_shop"`, ">Keys<", ">HMAC keys<", ">Audit<", ">Sign out<")
	p.lacks(t, ">Review<", ">Tokens<")
}

func TestSignInBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
		has    string
	}{
		{"no username", url.Values{"password": {"x"}}, 400, `id="username-error"`},
		{"no password", url.Values{"username": {opName}}, 400, `id="password-error"`},
		{"long username", url.Values{"username": {strings.Repeat("a", 300)}, "password": {"x"}}, 400, `id="username-error"`},
		{"control character", url.Values{"username": {"a\x00b"}, "password": {"x"}}, 400, `id="username-error"`},
		{"bad UTF-8", url.Values{"username": {"a\xffb"}, "password": {"x"}}, 400, `id="username-error"`},
		{"long password", url.Values{"username": {opName}, "password": {strings.Repeat("p", 2000)}}, 400, `id="password-error"`},
		{"wrong password", url.Values{"username": {opName}, "password": {"nope"}}, 401, "Wrong username or password."},
		{"unknown user", url.Values{"username": {"nobody"}, "password": {"nope"}}, 401, "Wrong username or password."},
		{"hostile username", url.Values{"username": {`<script>alert(1)</script>`}, "password": {"nope"}}, 401, `value="&lt;script&gt;alert(1)&lt;/script&gt;"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			p := c.do("POST", "/console/signin", tt.form, nil)
			p.want(t, tt.status, tt.has)
			p.lacks(t, "<script>alert(1)</script>")
			if c.cookie != "" {
				t.Error("a session cookie after a failed sign-in")
			}
		})
	}
	if n := len(e.events(console.ActionSignInFailed)); n != 3 {
		t.Errorf("%d failed sign-in events, want 3 (the wrong passwords)", n)
	}
	for _, ev := range e.events(console.ActionSignInFailed) {
		if strings.Contains(ev.Actor+ev.Path, "nope") {
			t.Errorf("event %+v holds the password", ev)
		}
	}
	// A name that is no user's (often a password typed in the wrong
	// field) stays out of the audit; a user's name is recorded, with its
	// account, so that its owner sees the attempts.
	actors := map[string]string{}
	for _, ev := range e.events(console.ActionSignInFailed) {
		actors[ev.Actor] = ev.Account
	}
	if want := map[string]string{"console:" + opName: "", "console:(unknown user)": ""}; !maps.Equal(actors, want) {
		t.Errorf("failed sign-in actors %v, want %v", actors, want)
	}
	p := e.client().do("POST", "/console/signin", url.Values{"username": {ownerName}, "password": {"nope"}}, nil)
	p.want(t, http.StatusUnauthorized)
	evs := e.events(console.ActionSignInFailed) // newest first
	if last := evs[0]; last.Actor != "console:"+ownerName || last.Account != "acct_shop" {
		t.Errorf("an owner's failed sign-in: actor %q, account %q", last.Actor, last.Account)
	}
	// The body is bounded.
	p = e.client().do("POST", "/console/signin", url.Values{"username": {opName}, "password": {strings.Repeat("p", 70<<10)}}, nil)
	p.want(t, http.StatusBadRequest, "The form could not be read.")
}

func TestSignInThrottledPerUsername(t *testing.T) {
	e := newEnv(t, envOptions{signInFailures: ratelimit.Policy{Name: "console", Limit: 3, Window: 15 * time.Minute}})
	c := e.client()
	for i := range 3 {
		p := c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {"wrong"}}, nil)
		p.want(t, http.StatusUnauthorized)
		_ = i
	}
	// Even the right password waits now, with the wait said.
	p := c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}}, nil)
	p.want(t, http.StatusTooManyRequests, "Too many failed sign-ins for this username. Try again in 5 minutes.")
	if c.cookie != "" {
		t.Error("signed in while throttled")
	}
	// Every refusal is an audit event with its reason.
	reasons := map[string]int{}
	for _, ev := range e.events(console.ActionSignInFailed) {
		reasons[ev.Reason]++
	}
	if want := map[string]int{console.ReasonBadCredentials: 3, console.ReasonTooManyFailures: 1}; !maps.Equal(reasons, want) {
		t.Errorf("failed sign-in events by reason: %v, want %v", reasons, want)
	}
	// Another username is not throttled.
	e.client().signIn(ownerName, ownerPass)
}

func TestSignInThrottleLocksNobodyOutFromElsewhere(t *testing.T) {
	e := newEnv(t, envOptions{signInFailures: ratelimit.Policy{Name: "console", Limit: 2, Window: 15 * time.Minute}})
	guess := func(remote string) page {
		c := e.client()
		c.remote = remote
		return c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {"wrong"}}, nil)
	}
	guess("203.0.113.1:1").want(t, http.StatusUnauthorized)
	guess("203.0.113.1:2").want(t, http.StatusUnauthorized)
	guess("203.0.113.1:3").want(t, http.StatusTooManyRequests, "Too many failed sign-ins for this username.")
	// The user, from its own address, is not locked out by the guesser.
	e.client().signIn(opName, opPass)
	// An IPv6 client counts with its /64.
	guess("[2001:db8::1]:1").want(t, http.StatusUnauthorized)
	guess("[2001:db8::2]:1").want(t, http.StatusUnauthorized)
	guess("[2001:db8::3]:1").want(t, http.StatusTooManyRequests)
	// Guesses from many addresses together: SignInFailuresPerUser times
	// the limit, then the username waits everywhere (two addresses have
	// failed twice already).
	for i := range console.SignInFailuresPerUser - 2 {
		for port := range 2 {
			guess(fmt.Sprintf("198.51.100.%d:%d", i, port+1)).want(t, http.StatusUnauthorized)
		}
	}
	c := e.client()
	p := c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}}, nil)
	p.want(t, http.StatusTooManyRequests, "Too many failed sign-ins for this username.")
	// Another username is not throttled.
	e.client().signIn(ownerName, ownerPass)
}

func TestSignInThrottleSharedByInstances(t *testing.T) {
	shared := ratelimit.NewMemoryLimiter(ratelimit.MemoryConfig{})
	policy := ratelimit.Policy{Name: "console", Limit: 2, Window: 15 * time.Minute}
	a := newEnv(t, envOptions{signInFailures: policy, limiter: shared})
	b := newEnv(t, envOptions{signInFailures: policy, limiter: shared})
	for range 2 {
		a.client().do("POST", "/console/signin", url.Values{"username": {opName}, "password": {"wrong"}}, nil).want(t, http.StatusUnauthorized)
	}
	// The other instance counts the same failures.
	p := b.client().do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}}, nil)
	p.want(t, http.StatusTooManyRequests, "Too many failed sign-ins for this username.")
}

func TestSignInCountsAgainstTheAddressLimit(t *testing.T) {
	e := newEnv(t, envOptions{authFailures: ratelimit.Policy{Name: "auth-failures", Limit: 2, Window: time.Minute}})
	c := e.client()
	for _, name := range []string{"a", "b"} {
		c.do("POST", "/console/signin", url.Values{"username": {name}, "password": {"wrong"}}, nil).want(t, http.StatusUnauthorized)
	}
	p := c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}}, nil)
	p.want(t, http.StatusTooManyRequests, "Too many failed sign-ins from your address. Try again in 30 seconds.")
	// The API refuses the address too: one limit.
	r, _ := http.NewRequest("GET", "/admin/v1/keys", nil)
	r.RemoteAddr = "192.0.2.10:1"
	r.Header.Set("Authorization", "Bearer bk_test_sk_whatever")
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("the admin API answered %d to the blocked address, want 429", w.Code)
	}
}

func TestSignInNeedsHTTPS(t *testing.T) {
	for _, tt := range []struct {
		host               string
		tls, tlsTerminated bool
		insecure           bool
	}{
		{host: "console.example.com", insecure: true},
		{host: "10.0.0.1:8080", insecure: true},
		{host: "console.example.com", tls: true},
		{host: "console.example.com", tlsTerminated: true},
		{host: "localhost:8080"},
		{host: "127.0.0.1:8080"},
		{host: "127.1.2.3"},
		{host: "[::1]:8080"},
		{host: "app.localhost"},
	} {
		t.Run(tt.host, func(t *testing.T) {
			e := newEnv(t, envOptions{tlsTerminated: tt.tlsTerminated})
			c := e.client()
			c.host, c.tls = tt.host, tt.tls
			p := c.get("/console/signin")
			p.want(t, http.StatusOK)
			if got := strings.Contains(p.body, "The console needs HTTPS"); got != tt.insecure {
				t.Errorf("says it needs HTTPS: %v, want %v", got, tt.insecure)
			}
			p = c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}}, nil)
			if tt.insecure {
				p.want(t, http.StatusForbidden, "The console needs HTTPS")
				if c.cookie != "" {
					t.Error("a cookie over plain HTTP")
				}
			} else if p.StatusCode != http.StatusSeeOther || c.cookie == "" {
				t.Errorf("sign-in: %d", p.StatusCode)
			}
		})
	}
}

func TestSignInNoOpenRedirect(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tt := range []struct{ next, want string }{
		{"https://evil.example/", "/console/"},
		{"//evil.example/console/", "/console/"},
		{"/\\evil.example", "/console/"},
		{"/console/../admin/v1/keys", "/console/"},
		{"/console/%2e%2e/admin/v1/keys", "/console/"},
		{"/consolex/", "/console/"},
		{"/other", "/console/"},
		{"javascript:alert(1)", "/console/"},
		{"/console/\r\nx", "/console/"},
		{"/console/signin", "/console/"},
		{"http://localhost/console/", "/console/"},
		{"", "/console/"},
		// Paths of the console are kept, escaped as they came.
		{"/console/keys/key_1?x=1", "/console/keys/key_1?x=1"},
		{"/console/%0d%0aSet-Cookie:x=y", "/console/%0d%0aSet-Cookie:x=y"},
	} {
		c := e.client()
		p := c.do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}, "next": {tt.next}}, nil)
		if loc := p.Header.Get("Location"); p.StatusCode != http.StatusSeeOther || loc != tt.want {
			t.Errorf("next %q: %d Location %q, want %q", tt.next, p.StatusCode, loc, tt.want)
		}
		if len(p.Header.Values("Set-Cookie")) != 1 {
			t.Errorf("next %q: Set-Cookie %q", tt.next, p.Header.Values("Set-Cookie"))
		}
	}
}

func TestSignOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(opName, opPass)
	old := c.cookie
	p := c.post("/console/signout", nil)
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/console/signin" {
		t.Fatalf("sign out: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if c.cookie != "" {
		t.Error("the cookie was not cleared")
	}
	evs := e.events(console.ActionSignOut)
	if len(evs) != 1 || evs[0].Actor != "console:"+opName {
		t.Errorf("sign-out events %+v", evs)
	}
	// The old cookie is refused: the session is gone on the server.
	c.cookie = old
	if p := c.get("/console/"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/console/signin" {
		t.Errorf("old cookie: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if p := c.post("/console/signout", url.Values{"csrf": {console.CSRFToken(old)}}); p.StatusCode != http.StatusSeeOther ||
		p.Header.Get("Location") != "/console/signin" {
		t.Errorf("old cookie, POST: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if n := len(e.events(console.ActionSignOut)); n != 1 {
		t.Errorf("%d sign-out events, want 1", n)
	}
}

func TestSessionExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, envOptions{})
		c := e.signedIn(opName, opPass)
		// Used within the idle timeout, it lives on.
		for range 3 {
			time.Sleep(29 * time.Minute)
			c.get("/console/").want(t, http.StatusOK, ">Sign out<")
		}
		time.Sleep(31 * time.Minute)
		if p := c.get("/console/"); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/console/signin" {
			t.Errorf("after 31 idle minutes: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		// The absolute timeout ends a session in use.
		c = e.signedIn(opName, opPass)
		for i := 1; i <= 40; i++ {
			time.Sleep(20 * time.Minute)
			if p := c.get("/console/"); p.StatusCode != http.StatusOK {
				if i*20 < 12*60 {
					t.Fatalf("ended after %d minutes", i*20)
				}
				return
			}
		}
		t.Error("a session in use outlived 12 hours")
	})
}

func TestDisabledUserIsSignedOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(ownerName, ownerPass)
	if err := e.users.Add(t.Context(), consolestore.User{Username: ownerName, Role: consolestore.RoleOwner, Account: "acct_shop", Disabled: true}, ownerPass); err != nil {
		t.Fatal(err)
	}
	if p := c.get("/console/"); p.StatusCode != http.StatusSeeOther {
		t.Errorf("disabled user: %d", p.StatusCode)
	}
	p := e.client().do("POST", "/console/signin", url.Values{"username": {ownerName}, "password": {ownerPass}}, nil)
	p.want(t, http.StatusUnauthorized, "Wrong username or password.")
}

func TestForgedPostsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(opName, opPass)
	good := c.csrf
	for _, tt := range []struct {
		name string
		form url.Values
		hdr  http.Header
	}{
		{"missing token", url.Values{}, nil},
		{"empty token", url.Values{"csrf": {""}}, nil},
		{"wrong token", url.Values{"csrf": {good[:len(good)-2] + "AA"}}, nil},
		{"another session's token", url.Values{"csrf": {console.CSRFToken("x")}}, nil},
		{"cross-site", url.Values{"csrf": {good}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"cross-origin", url.Values{"csrf": {good}}, http.Header{"Sec-Fetch-Site": {"same-site"}}},
		{"foreign Origin", url.Values{"csrf": {good}}, http.Header{"Sec-Fetch-Site": nil, "Origin": {"https://evil.example"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := c.do("POST", "/console/signout", tt.form, tt.hdr)
			p.want(t, http.StatusForbidden, "<h1>Forbidden</h1>")
			if p.Header.Get("Content-Security-Policy") == "" {
				t.Error("no CSP on the refusal")
			}
		})
	}
	// Still signed in: nothing happened.
	c.get("/console/").want(t, http.StatusOK, ">Sign out<")
	if n := len(e.events(console.ActionSignOut)); n != 0 {
		t.Errorf("%d sign-outs", n)
	}
	// A cross-site sign-in post is refused as well (login CSRF).
	p := e.client().do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}},
		http.Header{"Sec-Fetch-Site": {"cross-site"}})
	p.want(t, http.StatusForbidden)
}

func TestHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(opName, opPass)
	out := e.client()
	for _, tt := range []struct {
		name   string
		c      *client
		method string
		target string
		static bool
	}{
		{"sign-in", out, "GET", "/console/signin", false},
		{"redirect", out, "GET", "/console/", false},
		{"overview", c, "GET", "/console/", false},
		{"audit", c, "GET", "/console/audit", false},
		{"audit event missing", c, "GET", "/console/audit/event?seq=99999", false},
		{"audit export", c, "GET", "/console/audit/export?format=csv", false},
		{"not found", c, "GET", "/console/nope", false},
		{"forbidden", c, "POST", "/console/signout", false},
		{"static", out, "GET", "/console/static/console.css", true},
		{"static missing", out, "GET", "/console/static/nope.js", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p page
			if tt.method == "POST" {
				p = tt.c.do("POST", tt.target, url.Values{}, nil)
			} else {
				p = tt.c.get(tt.target)
			}
			for k, v := range map[string]string{
				"Content-Security-Policy": console.ContentSecurityPolicy,
				"Referrer-Policy":         "no-referrer",
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
			} {
				if got := p.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			cc := p.Header.Get("Cache-Control")
			if tt.static && !strings.Contains(cc, "max-age") || !tt.static && cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
	if !strings.Contains(console.ContentSecurityPolicy, "frame-ancestors 'none'") ||
		strings.Contains(console.ContentSecurityPolicy, "unsafe-inline") {
		t.Errorf("CSP %q", console.ContentSecurityPolicy)
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.client().get("/console/signin")
	var css string
	for _, f := range strings.Fields(p.body) {
		if strings.HasPrefix(f, `href="/console/static/console.css?v=`) {
			css = strings.TrimSuffix(strings.TrimPrefix(f, `href="`), `">`)
		}
	}
	if css == "" {
		t.Fatalf("no hashed stylesheet link in:\n%s", p.body)
	}
	s := e.client().get(css)
	s.want(t, http.StatusOK, "--accent")
	if cc := s.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("hashed asset Cache-Control %q", cc)
	}
	if ct := s.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type %q", ct)
	}
	js := e.client().get("/console/static/console.js")
	js.want(t, http.StatusOK, "data-secret")
	if cc := js.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("unhashed asset Cache-Control %q", cc)
	}
}

// No page has inline script or style: the CSP would block it.
func TestNoInlineScriptOrStyle(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(opName, opPass)
	for _, target := range []string{"/console/", "/console/audit", "/console/nope"} {
		p := c.get(target)
		for _, bad := range []string{"<script>", "style=", "<style", " on"} {
			if bad == " on" {
				for _, attr := range []string{" onclick=", " onload=", " onerror=", " onsubmit="} {
					p.lacks(t, attr)
				}
				continue
			}
			p.lacks(t, bad)
		}
	}
	p := e.client().get("/console/signin")
	p.lacks(t, "<script>", "style=", "<style")
}

func TestNewValidatesConfig(t *testing.T) {
	e := newEnv(t, envOptions{})
	_ = e
	for _, prefix := range []string{"", "/", "console", "/console/", "/a//b", "/a/../b", "/con sole"} {
		if _, err := console.New(console.Config{Prefix: prefix}); err == nil {
			t.Errorf("prefix %q accepted", prefix)
		}
	}
	if _, err := console.New(console.Config{Prefix: "/console"}); err == nil {
		t.Error("a Config without Admin accepted")
	}
}

// A session store that fails answers 503: never a sign-in page that
// pretends the user is signed out, never a sign-out that did not happen.
func TestSessionStoreDown(t *testing.T) {
	store := &brokenSessions{SessionStore: consolestore.NewMemorySessionStore()}
	e := newEnv(t, envOptions{sessionStore: store})
	c := e.signedIn(opName, opPass)
	store.broken.Store(true)
	c.get("/console/").want(t, http.StatusServiceUnavailable, "cannot reach its store")
	c.post("/console/signout", nil).want(t, http.StatusServiceUnavailable)
	p := e.client().do("POST", "/console/signin", url.Values{"username": {opName}, "password": {opPass}}, nil)
	p.want(t, http.StatusServiceUnavailable, "Sign-in is unavailable right now.")
	store.broken.Store(false)
	c.get("/console/").want(t, http.StatusOK, ">Sign out<")
	if n := len(e.events(console.ActionSignOut)); n != 0 {
		t.Errorf("%d sign-out events for a sign-out that failed", n)
	}
}
