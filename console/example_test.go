package console_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/keygate/keygate/account"
	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/console"
	"github.com/keygate/keygate/console/consolestore"
	"github.com/keygate/keygate/middleware"
)

// A service mounts the console under a prefix of its choice, beside the
// admin API it drives: every page reads and acts through the admin API's
// Do, with the signed-in user as the caller.
func Example() {
	ctx := context.Background()
	history := audit.NewMemorySink(10_000) // a SQL sink in production
	accounts, _ := account.NewManager(account.Config{})
	keys, _ := apikey.NewManager(apikey.Config{})
	auth, err := middleware.New(middleware.Config{APIKeys: keys})
	if err != nil {
		log.Fatal(err)
	}
	adm, err := admin.New(admin.Config{Prefix: "/admin/v1", Auth: auth, Accounts: accounts, Keys: keys,
		Audit: history, SeparateReview: true})
	if err != nil {
		log.Fatal(err)
	}

	// Console users and their sessions: memory stores here, the SQL
	// stores (sqlstore) when several instances share them.
	users, _ := console.NewUsers(console.UsersConfig{})
	sessions, _ := console.NewSessions(console.SessionsConfig{})
	if err := users.Add(ctx, consolestore.User{Username: "admin", Role: consolestore.RoleOperator,
		Permissions: []string{admin.PermissionRead, admin.PermissionWrite, admin.PermissionReview}}, "correct horse battery staple"); err != nil {
		log.Fatal(err)
	}

	c, err := console.New(console.Config{
		Prefix:   "/console",
		Admin:    adm,
		Auth:     auth, // client IPs and the failed-authentication limit the API uses
		Users:    users,
		Sessions: sessions,
		History:  history, // the audit page
		Summary:  history, // the overview's charts
		Audit: func(ctx context.Context, e audit.Event) { // sign-ins and sign-outs
			_ = history.Write(ctx, []audit.Event{e})
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/v1/", adm)
	mux.Handle("/console/", c)
	srv := httptest.NewServer(auth.Audit(mux)) // plain HTTP is fine on loopback only
	defer srv.Close()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(srv.URL + "/console/")
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Location"))

	form := url.Values{"username": {"admin"}, "password": {"correct horse battery staple"}}
	res, err = client.Post(srv.URL+"/console/signin", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	cookie := res.Cookies()[0]
	fmt.Println(res.StatusCode, res.Header.Get("Location"), cookie.Name, cookie.Secure, cookie.HttpOnly)
	// Output:
	// 303 /console/signin
	// 303 /console/ __Host-keygate-session true true
}
