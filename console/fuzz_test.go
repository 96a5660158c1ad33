package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
)

// fuzzRoutes are the console's routes that read input: every POST (with
// the form) and the GET pages with filters (with the query). "{id}" is
// replaced by the fuzzed ID.
var fuzzRoutes = []string{
	"POST /accounts", "POST /accounts/{id}/package", "POST /keys/new", "POST /keys/{id}/edit",
	"POST /keys/{id}/rotate", "POST /keys/{id}/revoke", "POST /keys/{id}/disable", "POST /keys/{id}/enable",
	"POST /review/{id}/approve", "POST /review/{id}/reject", "POST /hmac-keys", "POST /hmac-keys/{id}/rotate",
	"POST /hmac-keys/{id}/revoke", "POST /tokens",
	"GET /", "GET /accounts", "GET /accounts/{id}", "GET /keys", "GET /keys/new", "GET /keys/{id}",
	"GET /keys/{id}/edit", "GET /review", "GET /audit", "GET /audit/event", "GET /audit/export", "GET /tokens",
}

// FuzzPages sends arbitrary forms and queries, with a live operator
// session and its form token, to every route of the console that reads
// input: the answer is a page or a form error, never a 5xx, a panic or a
// script that came from the input.
func FuzzPages(f *testing.F) {
	e := newEnv(f, envOptions{})
	ctx := keygate.WithActor(context.Background(), "test")
	_, rec, err := e.keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_shop", Mode: keygate.ModeTest, Package: "GO"}, Kind: keygate.KindSecret})
	if err != nil {
		f.Fatal(err)
	}
	op := e.signedIn(opName, opPass)
	for i := range fuzzRoutes {
		f.Add(uint8(i), rec.ID, "")
	}
	f.Add(uint8(2), "", "account=acct_shop&mode=test&kind=&name=POS")
	f.Add(uint8(2), "", "account=acct_shop&mode=live&kind=sk&name=%3Cscript%3E&permissions=orders:read")
	f.Add(uint8(3), rec.ID, "name=x&permissions=orders%3Aread%0Aadmin%3Awrite&allowed_ips=10.0.0.0%2F8&expires=2031-01-01")
	f.Add(uint8(4), rec.ID, "grace=1h30m&idem=abc")
	f.Add(uint8(4), rec.ID, "grace=-5&idem=abc")
	f.Add(uint8(4), rec.ID, "grace=99999999999999999999")
	f.Add(uint8(13), "", "jti=abc")
	f.Add(uint8(22), "", "since=2026-01-02+03:04&until=2026-01-01&decision=deny&ip=::1&key_id=k&cursor=%00")
	f.Add(uint8(23), "", "seq=18446744073709551615")
	f.Add(uint8(24), "", "format=csv&since=0000-01-01+00:00")
	f.Add(uint8(17), "", "account=acct_shop&mode=test&kind=pk&status=revoked&cursor=!!")
	f.Fuzz(func(t *testing.T, route uint8, id, input string) {
		e.t = t // the helpers report to the running input (inputs run one at a time)
		method, path, _ := strings.Cut(fuzzRoutes[int(route)%len(fuzzRoutes)], " ")
		path = "/console" + strings.ReplaceAll(path, "{id}", url.PathEscape(id))
		if path != "/console/" {
			path = strings.TrimSuffix(path, "/")
		}
		form, _ := url.ParseQuery(input) // what parses of it
		var p page
		if method == "GET" {
			p = op.do("GET", path+"?"+form.Encode(), nil, nil)
		} else {
			form.Set("csrf", op.csrf)
			p = op.do("POST", path, form, nil)
		}
		if p.StatusCode >= 500 {
			t.Fatalf("%s %s %q: status %d:\n%s", method, path, input, p.StatusCode, p.body)
		}
		if strings.Contains(p.Header.Get("Location"), "/signin") {
			t.Fatalf("%s %s %q: sent to sign in: the session was lost, nothing was tested", method, path, input)
		}
		if strings.Contains(p.body, "<script>") {
			t.Fatalf("%s %s %q: an unescaped <script> in the page", method, path, input)
		}
	})
}
