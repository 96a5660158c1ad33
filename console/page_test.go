package console_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/access"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
)

func TestPageRoles(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.console.AddTestPage("GET /ops-only", true, func(w http.ResponseWriter, r *http.Request, s console.TestSignedIn) {
		w.WriteHeader(http.StatusTeapot)
	})
	e.console.AddTestPage("POST /anyone", false, func(w http.ResponseWriter, r *http.Request, s console.TestSignedIn) {
		_, _ = w.Write([]byte("form " + r.PostForm.Get("x")))
	})
	op := e.signedIn(opName, opPass)
	if p := op.get("/console/ops-only"); p.StatusCode != http.StatusTeapot {
		t.Errorf("operator on an operators' page: %d", p.StatusCode)
	}
	owner := e.signedIn(ownerName, ownerPass)
	owner.get("/console/ops-only").want(t, http.StatusNotFound, "<h1>Not Found</h1>", ">Sign out<")
	owner.post("/console/anyone", url.Values{"x": {"1"}}).want(t, http.StatusOK, "form 1")
	owner.post("/console/anyone", url.Values{"x": {"1"}, "csrf": {op.csrf}}).want(t, http.StatusForbidden)
	owner.get("/console/anyone").want(t, http.StatusNotFound)
	e.client().get("/console/ops-only").want(t, http.StatusSeeOther)
}

func TestCaller(t *testing.T) {
	e := newEnv(t, envOptions{})
	var got console.TestSignedIn
	e.console.AddTestPage("GET /who", false, func(w http.ResponseWriter, r *http.Request, s console.TestSignedIn) { got = s })
	perm := access.MustParsePermission

	e.signedIn(opName, opPass).get("/console/who")
	c := got.Caller
	if c.Principal.Method != keygate.MethodConsole || c.Principal.Subject != "console:"+opName || c.Account != "" || c.Principal.KeyID != "" {
		t.Errorf("operator caller %+v", c)
	}
	for _, p := range []string{"admin:read", "admin:write", "admin:review"} {
		if !c.Grants.Allows(perm(p)) {
			t.Errorf("operator lacks %s", p)
		}
	}
	if c.Grants.Allows(perm("offers:read")) {
		t.Error("operator holds what it was not given")
	}

	e.signedIn(readName, readPass).get("/console/who")
	if g := got.Caller.Grants; !g.Allows(perm("admin:read")) || g.Allows(perm("admin:write")) {
		t.Errorf("reader grants %v", g.Permissions())
	}
	if r := got.Call("POST", "/keys", map[string]string{"account": "acct_shop", "mode": "test"}); r.Status != http.StatusForbidden {
		t.Errorf("a reader created a key: %d", r.Status)
	}

	e.signedIn(ownerName, ownerPass).get("/console/who")
	c = got.Caller
	if c.Account != "acct_shop" || c.Principal.Subject != "console:"+ownerName || got.Package != "GO" {
		t.Errorf("owner caller %+v package %q", c, got.Package)
	}
	for p, want := range map[string]bool{"admin:read": true, "admin:write": true, "admin:review": false,
		"offers:read": true, "products:read": true, "analytics:export": false} {
		if c.Grants.Allows(perm(p)) != want {
			t.Errorf("owner holds %s: %v, want %v", p, !want, want)
		}
	}
	// Confined: another account is not found; its own is.
	if r := got.Call("GET", "/accounts/acct_other", nil); r.Status != http.StatusNotFound {
		t.Errorf("owner read another account: %d", r.Status)
	}
	if r := got.Call("GET", "/accounts/acct_shop", nil); r.Status != http.StatusOK {
		t.Errorf("owner's own account: %d", r.Status)
	}
	r := got.Call("POST", "/keys", map[string]string{"account": "acct_shop", "mode": "test", "kind": "sk"})
	if r.Status != http.StatusCreated {
		t.Fatalf("owner's key: %d %+v", r.Status, r.Err)
	}
	if k := r.Body.(admin.KeyPair).Secret; k == nil || k.CreatedBy != "console:"+ownerName {
		t.Errorf("created by %+v", k)
	}
	if r := got.Call("POST", "/keys", map[string]any{"account": "acct_shop", "mode": "test", "permissions": []string{"analytics:export"}}); r.Status != http.StatusForbidden {
		t.Errorf("owner gave beyond its package: %d", r.Status)
	}
}

func TestOwnerOfAMissingAccountHoldsNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	if err := e.users.Add(ctx, consolestore.User{Username: "ghost", Role: consolestore.RoleOwner, Account: "acct_gone"}, "ghost password"); err != nil {
		t.Fatal(err)
	}
	var got console.TestSignedIn
	e.console.AddTestPage("GET /who", false, func(w http.ResponseWriter, r *http.Request, s console.TestSignedIn) { got = s })
	e.signedIn("ghost", "ghost password").get("/console/who")
	if got.Caller.Grants.Len() != 0 {
		t.Errorf("grants %v", got.Caller.Grants.Permissions())
	}
	if r := got.Call("GET", "/keys", nil); r.Status != http.StatusForbidden {
		t.Errorf("list keys: %d", r.Status)
	}
}

func TestNotFoundPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.signedIn(opName, opPass)
	for _, target := range []string{"/console/nope", "/console/keys/x/y/z/w"} {
		c.get(target).want(t, http.StatusNotFound, "<h1>Not Found</h1>", ">Sign out<")
	}
	c.get("/console/static/").want(t, http.StatusNotFound)
	p := e.client().get("/console/nope")
	p.want(t, http.StatusNotFound, "<h1>Not Found</h1>", `href="/console/signin"`)
	p.lacks(t, ">Sign out<")
}
