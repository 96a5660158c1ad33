package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hostile names of TestConsoleBrowser: an account name that is an
// image whose error handler opens a dialog, and a key name with both
// quotes and the end of a script element.
const (
	hostileAccountName = `<img src=x onerror=alert(1)>`
	hostileKeyName     = `it's "quoted" </script><script>alert(2)</script>`
)

// TestConsoleBrowser drives the console of a real "keygate serve" (in
// this process, --db memory) in headless Chromium, as issue 13's "What
// will be checked" lists, through the console's fixed forms only (field
// names, button and link texts, data-secret, /console/keys/{id}):
//
//   - the operator signs in with the printed credentials; creates a key
//     pair for acct_demo in test mode; the page shows the secret key once,
//     in data-secret, and that key gets 200 on /v1/whoami;
//   - Rotate with grace 0: the old key gets 401, the new one 200; Revoke:
//     the key gets 401;
//   - the Audit page filtered by the key's ID lists key.created,
//     key.rotated and key.revoked;
//   - the demo user signs in, sees acct_demo only, gets 404 for another
//     account's key page, and asks for a live key, which shows up in
//     Review and is approved there by the operator, who did not create it;
//   - Sign out ends the session: the old cookie is refused;
//   - a form on another site posting to the console is refused;
//   - without JavaScript, Revoke goes through a confirmation page;
//   - the hostile names render escaped, and no dialog ever opens;
//   - every page carries the console's security headers and has no
//     serious or critical accessibility violation (axe-core), and a
//     screenshot of each is written;
//   - once shown, no key or secret is in any later page, nor in the
//     creation page when the browser goes back to it.
func TestConsoleBrowser(t *testing.T) {
	chromiumPath(t) // skip (or fail under CI) before starting anything
	in := startInstance(t, "--db", "memory")
	k := in.keys
	base := in.url
	c := httpClient(t)

	// Hostile names, through the admin API: every page that lists
	// accounts or keys shows them from here on.
	r := call(t, c, http.MethodPost, base+"/admin/v1/accounts", map[string]any{"name": hostileAccountName, "package": "GO"}, bearer(k.admin)...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	hostileAccount := jsonBody(t, r)["id"].(string)
	r = call(t, c, http.MethodPost, base+"/admin/v1/keys", map[string]any{
		"account": hostileAccount, "mode": "test", "kind": "sk", "name": hostileKeyName,
	}, bearer(k.admin)...)
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var hostile struct {
		Secret struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		} `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(r.body, &hostile))
	require.NotEmpty(t, hostile.Secret.ID)

	whoami := func(key string) int {
		t.Helper()
		return call(t, c, http.MethodGet, base+"/v1/whoami", nil, bearer(key)...).status
	}

	cb := newConsoleBrowser(t, base)
	// Nothing printed at start, nor the hostile key, may ever be in a
	// page.
	cb.shown = append(cb.shown, k.secrets()...)
	cb.shown = append(cb.shown, hostile.Secret.Key)

	// Signed out, the console sends to the sign-in page.
	cb.open("signed out", "/console/")
	require.Contains(t, cb.path(), "/console/signin", "signed out, /console/ redirects to the sign-in page")

	// The operator signs in with the printed credentials.
	cb.signIn(k.operator, k.operatorPassword)

	// Creates a key pair for acct_demo in test mode.
	secrets := cb.createKey("create key (operator)", map[string]string{"account": demoAccount, "mode": "test", "kind": "", "name": "browser pair"})
	sk := secrets.kind("bk_test_sk_")
	pk := secrets.kind("bk_test_pk_")
	require.NotEmpty(t, sk, "the secret key is shown in data-secret: %q", secrets)
	require.NotEmpty(t, pk, "the publishable key of the pair is shown in data-secret: %q", secrets)
	assert.Equal(t, http.StatusOK, whoami(sk), "the key shown works")

	// Reloading the page does not show the secret again (nor create
	// another pair); leaving it loses the secret, and going back does
	// not bring it.
	cb.loaded("reload the created pair", func() *network.Response {
		return cb.b.load("reload the created pair", pageChecks{headers: true}, chromedp.Reload())
	})
	require.Empty(t, cb.dataSecrets(), "a reload shows no secret")
	cb.nav("Keys")
	cb.back("back to the created pair")
	// Leaving a one-time display without reloading it first, and coming
	// back: the page the history holds is the one that showed the secret,
	// which the back/forward cache must not bring back.
	cb.open("keys", "/console/keys")
	cb.createKey("create key, then leave", map[string]string{"account": demoAccount, "mode": "test", "kind": "sk", "name": "left at once"})
	cb.nav("Keys")
	cb.back("back to the created key, not reloaded")

	// Rotate with grace 0: the old key stops at once, the new one works.
	id := keyID(sk)
	cb.open("key", "/console/keys/"+id)
	rotated := cb.act("rotate", "Rotate", map[string]string{"grace": "0"})
	sk2 := rotated.kind("bk_test_sk_")
	require.NotEmpty(t, sk2, "the rotated key is shown in data-secret: %q", rotated)
	require.NotEqual(t, sk, sk2)
	assert.Equal(t, keyID(sk), keyID(sk2), "a rotated key keeps its ID")
	assert.Equal(t, http.StatusUnauthorized, whoami(sk), "the old key after Rotate with grace 0")
	assert.Equal(t, http.StatusOK, whoami(sk2), "the new key after Rotate")

	// Revoke: the key gets 401 on the next request.
	cb.open("key after rotation", "/console/keys/"+id)
	cb.b.readmeShot("console-key.png", 1020)
	cb.act("revoke", "Revoke", nil)
	assert.Equal(t, http.StatusUnauthorized, whoami(sk2), "the key after Revoke")

	// The Audit page filtered by the key's ID lists its history.
	cb.nav("Audit")
	cb.filter("audit by key", map[string]string{"key_id": id})
	cb.b.readmeShot("console-audit.png", 600)
	text := cb.text()
	for _, action := range []string{"key.created", "key.rotated", "key.revoked"} {
		assert.Contains(t, text, action, "the audit page filtered by key_id=%s lists %s", id, action)
	}

	// The hostile names render escaped, on the pages that show them.
	cb.nav("Accounts")
	cb.requireText(hostileAccountName)
	cb.open("hostile account", "/console/accounts/"+url.PathEscape(hostileAccount))
	cb.requireText(hostileAccountName)
	cb.open("hostile key", "/console/keys/"+url.PathEscape(hostile.Secret.ID))
	cb.requireText(hostileKeyName)
	cb.nav("Keys")
	cb.requireText(hostileKeyName)

	// A form on another site that posts to the console, in the browser
	// of a signed-in operator, is refused, and changes nothing.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Win a prize</title></head><body><main><h1>Win a prize</h1>
<form method="post" action="%s/console/keys/%s/revoke"><input type="hidden" name="confirmed" value="yes"><button>Claim</button></form>
</main></body></html>`, base, url.PathEscape(hostile.Secret.ID))
	}))
	defer attacker.Close()
	cb.b.step("another site", chromedp.Navigate(attacker.URL))
	res := cb.click("cross-site form post", submitButton("Claim", ""))
	assert.EqualValues(t, http.StatusForbidden, res.Status, "a cross-site form post")
	assert.Equal(t, http.StatusOK, whoami(hostile.Secret.Key), "the cross-site post revoked nothing")

	// Without JavaScript, Revoke asks on a confirmation page first, and
	// revokes once confirmed there.
	cb.b.scripts(false)
	cb.open("hostile key, no JavaScript", "/console/keys/"+url.PathEscape(hostile.Secret.ID))
	cb.click("revoke, no JavaScript", submitButton("Revoke", ""))
	require.True(t, cb.exists(`//form[@data-confirm-step]`), "without JavaScript, Revoke asks on a confirmation page")
	assert.Equal(t, http.StatusOK, whoami(hostile.Secret.Key), "not revoked before the confirmation")
	cb.confirm("revoke confirmed, no JavaScript", "Revoke")
	assert.Equal(t, http.StatusUnauthorized, whoami(hostile.Secret.Key), "revoked once confirmed")
	cb.b.scripts(true)

	// Review is empty so far; HMAC keys and Tokens render.
	cb.open("review", "/console/review")
	cb.nav("HMAC keys")
	cb.nav("Tokens")
	cb.nav("Overview")

	// Sign out ends the session: its cookie is refused afterwards.
	cookie := cb.sessionCookie()
	r = consoleGetResponse(t, base, "/console/keys", cookie)
	require.Equal(t, http.StatusOK, r.status, "the session cookie works while signed in")
	cb.signOut()
	r = consoleGetResponse(t, base, "/console/keys", cookie)
	assert.Equal(t, http.StatusSeeOther, r.status, "the session cookie reused after Sign out is refused")
	assert.Contains(t, r.header.Get("Location"), "/console/signin", "the session cookie reused after Sign out sends to the sign-in page")
	cb.open("after sign out", "/console/keys")
	assert.Contains(t, cb.path(), "/console/signin", "signed out, a page sends to the sign-in page")

	// The demo user: the owner of acct_demo only.
	cb.signIn(k.user, k.password)
	cb.nav("Keys")
	html := cb.html()
	assert.Contains(t, html, demoAccount)
	for _, other := range []string{primeAccount, adminAccount, hostileAccount} {
		assert.NotContains(t, html, other, "an account owner sees its own account only")
	}
	cb.nav("Accounts")
	html = cb.html()
	assert.Contains(t, html, demoAccount)
	for _, other := range []string{primeAccount, adminAccount, hostileAccount} {
		assert.NotContains(t, html, other, "an account owner sees its own account only")
	}
	res = cb.open("another account's key", "/console/keys/"+keyID(k.prime))
	assert.EqualValues(t, http.StatusNotFound, res.Status, "another account's key page")
	res = cb.open("another account", "/console/accounts/"+primeAccount)
	assert.EqualValues(t, http.StatusNotFound, res.Status, "another account's page")
	res = cb.open("review, owner", "/console/review")
	assert.EqualValues(t, http.StatusNotFound, res.Status, "Review is the operators'")

	// The owner asks for a live key: it waits for review, and does not
	// work yet.
	live := cb.createKey("create live key (owner)", map[string]string{"account": demoAccount, "mode": "live", "kind": "sk", "name": "browser live"})
	lk := live.kind("bk_live_sk_")
	require.NotEmpty(t, lk, "the live key is shown in data-secret: %q", live)
	assert.Equal(t, http.StatusUnauthorized, whoami(lk), "a live key pending review")
	cb.signOut()

	// The operator, who did not create it, approves it in Review.
	cb.signIn(k.operator, k.operatorPassword)
	cb.nav("Review")
	cb.requireText(keyID(lk))
	cb.act("approve", "Approve", nil)
	assert.Equal(t, http.StatusOK, whoami(lk), "the live key once approved")
	cb.open("approved key", "/console/keys/"+keyID(lk))
	cb.nav("Review")
	assert.NotContains(t, cb.html(), keyID(lk), "an approved key leaves Review")
	cb.signOut()

	// The only dialogs were the console's confirmations (Revoke's, at
	// least, and the harness sees them): no hostile name opened one.
	dialogs := cb.b.seenDialogs()
	assert.Contains(t, strings.Join(dialogs, "\n"), "confirm: ", "Revoke asks for a confirmation")
	for _, d := range dialogs {
		assert.True(t, strings.HasPrefix(d, "confirm: "), "a page opened a JavaScript dialog: %s", d)
	}
	t.Logf("%d pages checked; screenshots in %s", cb.b.n, cb.b.shots)
	in.stop(t)
	in.requireNoSecrets(t, sk, sk2, pk, lk)
}

// consoleBrowser drives the console through its fixed forms, checking
// every page as browser.load does and, once a key or secret was shown,
// that no later page contains it.
type consoleBrowser struct {
	t    *testing.T
	b    *browser
	base string
	// shown are the keys and secrets shown so far (and those serve
	// printed): no page but their one-time display may contain them.
	shown []string
}

// newConsoleBrowser opens a browser on the console of the server at base.
func newConsoleBrowser(t *testing.T, base string) *consoleBrowser {
	return &consoleBrowser{t: t, b: newBrowser(t), base: base}
}

// loaded checks the page just loaded: its headers, its accessibility, its
// screenshot (browser.check), and that it holds none of the keys and
// secrets shown before.
func (cb *consoleBrowser) loaded(name string, load func() *network.Response) *network.Response {
	cb.t.Helper()
	res := load()
	html := cb.b.html()
	for _, s := range cb.shown {
		require.NotContains(cb.t, html, s, "page %s holds a key or secret shown earlier", name)
	}
	require.Zero(cb.t, eval[int](cb.b, `document.querySelectorAll('img[src="x"]').length`),
		"page %s: a hostile name became an element", name)
	return res
}

// open loads the console page at path.
func (cb *consoleBrowser) open(name, path string) *network.Response {
	cb.t.Helper()
	return cb.loaded(name, func() *network.Response {
		return cb.b.navigate(name, cb.base+path, pageChecks{headers: true})
	})
}

// click clicks the element that xpath selects and checks the page it
// loads.
func (cb *consoleBrowser) click(name, xpath string) *network.Response {
	cb.t.Helper()
	require.True(cb.t, cb.exists(xpath), "%s: nothing to click on %s: %s", name, cb.path(), xpath)
	return cb.loaded(name, func() *network.Response {
		return cb.b.load(name, pageChecks{headers: true}, chromedp.Click(chromedp.Search(xpath)))
	})
}

// nav follows the navigation link with that text.
func (cb *consoleBrowser) nav(label string) *network.Response {
	cb.t.Helper()
	return cb.click(strings.ToLower(label), `//nav//a[normalize-space(.)=`+xpString(label)+`]`)
}

// back goes back in the history to the page of the one-time display and
// requires that it shows no secret: the page cache (bfcache), which
// restores even no-store pages, must not hold one.
func (cb *consoleBrowser) back(name string) {
	cb.t.Helper()
	ctx, cancel := context.WithTimeout(cb.b.ctx, browserStep)
	err := chromedp.Do(ctx, chromedp.NavigateBack())
	cancel()
	if err != nil && strings.Contains(err.Error(), "ERR_CACHE_MISS") {
		// The page was the answer to a form post, kept by no cache: the
		// browser shows its error page rather than post the form again.
		cb.t.Logf("%s: the browser did not restore the page (%v)", name, err)
	} else {
		require.NoError(cb.t, err, "%s", name)
	}
	// Whatever the browser shows there (the page restored and wiped, or
	// reloaded, or an error page for a form post), no secret.
	html := cb.b.html()
	for _, s := range cb.shown {
		require.NotContains(cb.t, html, s, "%s: the page holds a secret again", name)
	}
	require.Empty(cb.t, cb.dataSecrets(), "%s: a data-secret element holds a secret again", name)
	cb.b.screenshot(name)
}

// xpString quotes s as an XPath 1.0 string literal (s has no both kinds
// of quote: the tests' texts are plain).
func xpString(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

// submitButton is the XPath of a submit button with that text in a form
// that has a field named field (any form when field is empty).
func submitButton(text, field string) string {
	form := "//form"
	if field != "" {
		form = `//form[.//*[@name=` + xpString(field) + `]]`
	}
	return form + `//button[normalize-space(.)=` + xpString(text) + `] | ` +
		form + `//input[@type="submit" and @value=` + xpString(text) + `]`
}

// exists reports whether xpath selects an element of the page.
func (cb *consoleBrowser) exists(xpath string) bool {
	cb.t.Helper()
	return eval[bool](cb.b, `document.evaluate(`+strconv.Quote(xpath)+`, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue !== null`)
}

// fill sets the fields of the form that has a field named first (the
// first key of fields in order) to fields: a select's or an input's value,
// or the radio button with that value. A field absent from the form must
// be "" (kind: absent means a pair).
func (cb *consoleBrowser) fill(anchor string, fields map[string]string) {
	cb.t.Helper()
	raw, err := json.Marshal(fields)
	require.NoError(cb.t, err)
	missing := eval[[]string](cb.b, `(() => {
		const fields = `+string(raw)+`;
		const anchor = document.querySelector('form [name=`+strconv.Quote(anchor)+`]');
		if (!anchor) return ["`+anchor+`"];
		const form = anchor.form || anchor.closest("form");
		const missing = [];
		for (const [name, value] of Object.entries(fields)) {
			const els = form.querySelectorAll('[name="' + name + '"]');
			if (els.length === 0) { if (value !== "") missing.push(name); continue; }
			for (const el of els) {
				if (el.type === "radio" || el.type === "checkbox") el.checked = el.value === value;
				else el.value = value;
			}
		}
		return missing;
	})()`)
	require.Empty(cb.t, missing, "form fields missing on %s", cb.path())
}

// signIn signs in from the sign-in page with the fixed form.
func (cb *consoleBrowser) signIn(username, password string) {
	cb.t.Helper()
	cb.open("sign in", "/console/signin")
	cb.fill("username", map[string]string{"username": username, "password": password})
	res := cb.click("signed in as "+username, submitButton("Sign in", "username"))
	require.EqualValues(cb.t, http.StatusOK, res.Status, "signing in as %s", username)
	require.NotContains(cb.t, cb.path(), "/signin", "signed in as %s", username)
	require.True(cb.t, cb.exists(submitButton("Sign out", "")), "signed in as %s: a Sign out button", username)
}

// signOut clicks Sign out, and requires the sign-in page after it.
func (cb *consoleBrowser) signOut() {
	cb.t.Helper()
	cb.click("signed out", submitButton("Sign out", ""))
	cb.confirm("signed out (confirmed)", "Sign out")
	require.False(cb.t, cb.exists(submitButton("Sign out", "")), "signed out: no Sign out button")
}

// confirm passes a confirmation step, if the page is one (the console's
// answer to a destructive action posted without JavaScript's
// confirmation): its form's button says text or Confirm.
func (cb *consoleBrowser) confirm(name, text string) {
	cb.t.Helper()
	if !cb.exists(`//form[@data-confirm-step]`) {
		return
	}
	for _, label := range []string{"Confirm", text} {
		if xp := `//form[@data-confirm-step]//button[normalize-space(.)=` + xpString(label) + `]`; cb.exists(xp) {
			cb.click(name, xp)
			return
		}
	}
	require.FailNow(cb.t, "a confirmation step without a "+text+" or Confirm button", "%s", name)
}

// createKey goes to the Keys page, follows Create key, fills the create
// form with fields and submits it, and returns the one-time plaintexts the
// result page shows in data-secret; from then on, no other page may
// contain them.
func (cb *consoleBrowser) createKey(name string, fields map[string]string) shownSecrets {
	cb.t.Helper()
	cb.nav("Keys")
	// The create form is the one with a name field (the list's filters
	// have account, mode and kind too).
	if !cb.exists(`//form[.//*[@name="name"]]//*[@name="mode"]`) {
		cb.click("create key form", `//main//a[normalize-space(.)="Create key"] | `+submitButton("Create key", ""))
	}
	cb.fill("name", fields)
	res := cb.click(name, submitButton("Create key", "name"))
	require.Less(cb.t, res.Status, int64(400), "%s: status %d: %s", name, res.Status, cb.text())
	return cb.display()
}

// act clicks the button with that text in the form that has the fields
// (when fields is not empty; any form with that button otherwise), after
// filling them, passes the confirmation step if there is one, and returns
// the one-time plaintexts the result shows (none for most actions).
func (cb *consoleBrowser) act(name, text string, fields map[string]string) shownSecrets {
	cb.t.Helper()
	anchor := ""
	for f := range fields {
		anchor = f
	}
	if anchor != "" {
		cb.fill(anchor, fields)
	}
	res := cb.click(name, submitButton(text, anchor))
	require.Less(cb.t, res.Status, int64(400), "%s: status %d: %s", name, res.Status, cb.text())
	cb.confirm(name+" (confirmed)", text)
	return cb.display()
}

// shownSecrets are the plaintexts of a one-time display.
type shownSecrets []string

// kind returns the one with that prefix, or "".
func (s shownSecrets) kind(prefix string) string {
	for _, v := range s {
		if strings.HasPrefix(v, prefix) {
			return v
		}
	}
	return ""
}

// display reads the page's data-secret elements, and remembers them as
// shown: no later page may contain them.
func (cb *consoleBrowser) display() shownSecrets {
	cb.t.Helper()
	s := cb.dataSecrets()
	cb.shown = append(cb.shown, s...)
	return s
}

// dataSecrets returns the texts of the page's data-secret elements.
func (cb *consoleBrowser) dataSecrets() shownSecrets {
	cb.t.Helper()
	all := eval[[]string](cb.b, `Array.from(document.querySelectorAll("[data-secret]"), e => e.textContent.trim())`)
	var s shownSecrets
	for _, v := range all {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// filter fills the filter form that has the fields and submits it.
func (cb *consoleBrowser) filter(name string, fields map[string]string) {
	cb.t.Helper()
	anchor := ""
	for f := range fields {
		anchor = f
	}
	cb.fill(anchor, fields)
	cb.loaded(name, func() *network.Response {
		return cb.b.load(name, pageChecks{headers: true}, chromedp.Submit(chromedp.Search(`//form//*[@name=`+xpString(anchor)+`]`)))
	})
}

// requireText requires the page to show s as text: a hostile name is
// shown as written, not interpreted.
func (cb *consoleBrowser) requireText(s string) {
	cb.t.Helper()
	require.Contains(cb.t, cb.text(), s, "page %s shows %q as text", cb.path(), s)
}

// text returns the page's visible text.
func (cb *consoleBrowser) text() string {
	cb.t.Helper()
	return eval[string](cb.b, `document.body.innerText`)
}

// html returns the page's HTML.
func (cb *consoleBrowser) html() string {
	cb.t.Helper()
	return cb.b.html()
}

// path returns the path of the page's URL.
func (cb *consoleBrowser) path() string {
	cb.t.Helper()
	return eval[string](cb.b, `location.pathname`)
}

// sessionCookie returns the console's session cookie in the browser.
func (cb *consoleBrowser) sessionCookie() string {
	cb.t.Helper()
	ctx := cb.b.ctx
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{cb.base + "/console/"}})
	require.NoError(cb.t, err)
	for _, c := range res.Cookies {
		if c.Name == "__Host-keygate-session" {
			require.True(cb.t, c.HTTPOnly, "the session cookie is HttpOnly")
			require.True(cb.t, c.Secure, "the session cookie is Secure")
			require.Equal(cb.t, network.CookieSameSiteStrict, c.SameSite, "the session cookie is SameSite=Strict")
			return c.Value
		}
	}
	require.FailNow(cb.t, "no session cookie in the browser")
	return ""
}
