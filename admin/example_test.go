package admin_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/middleware"
)

// A service mounts the admin API under a prefix of its choice, behind the
// same Authenticator as its own routes, and calls it with an admin key.
func Example() {
	ctx := context.Background()
	now := func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }
	accounts, _ := account.NewManager(account.Config{Now: now})
	keys, _ := apikey.NewManager(apikey.Config{})
	auth, err := middleware.New(middleware.Config{APIKeys: keys})
	if err != nil {
		log.Fatal(err)
	}
	h, err := admin.New(admin.Config{Prefix: "/admin/v1", Auth: auth, Accounts: accounts, Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/v1/", h) // no StripPrefix: the audit log records the admin routes
	srv := httptest.NewServer(auth.Audit(mux))
	defer srv.Close()

	// The first admin key, as "keygate init" makes it.
	ctx = keygate.WithActor(ctx, "init")
	if _, err := accounts.Create(ctx, account.CreateParams{ID: "acct_ops", Name: "Operators"}); err != nil {
		log.Fatal(err)
	}
	adminKey, _, err := keys.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{Account: "acct_ops", Mode: keygate.ModeTest, Permissions: []string{admin.PermissionRead, admin.PermissionWrite, admin.PermissionReview}}, Kind: keygate.KindSecret})
	if err != nil {
		log.Fatal(err)
	}

	call := func(method, path, body string) {
		req, _ := http.NewRequest(method, srv.URL+"/admin/v1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey.Reveal())
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		fmt.Println(res.StatusCode, strings.TrimSpace(string(b)))
	}
	call("POST", "/accounts", `{"id":"acct_shop","name":"Shop","package":"GO"}`)
	call("POST", "/keys", `{"account":"acct_shop","mode":"tset"}`)
	call("GET", "/accounts/acct_nope", "")
	// Output:
	// 201 {"id":"acct_shop","name":"Shop","package":"GO","disabled":false,"created":"2030-01-02T03:04:05Z","updated":"2030-01-02T03:04:05Z"}
	// 400 {"error":"validation_failed","error_description":"some fields are not valid; see fields","fields":{"mode":"must be \"test\" or \"live\""}}
	// 404 {"error":"not_found","error_description":"no account has this ID"}
}
