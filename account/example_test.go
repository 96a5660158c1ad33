package account_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/account"
)

// Create an account, move it to another package, and page through the
// accounts.
func Example() {
	accounts, err := account.NewManager(account.Config{
		OnChange: func(_ context.Context, c keygate.Change) {
			fmt.Println("audit:", c.Action, "by", c.Actor)
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := keygate.WithActor(context.Background(), "admin@example.com")

	a, err := accounts.Create(ctx, account.CreateParams{ID: "acct_42", Name: "Corner Shop", Package: "GO"})
	if err != nil {
		panic(err)
	}
	_, err = accounts.Create(ctx, account.CreateParams{ID: "acct_42", Name: "Another"})
	fmt.Println(errors.Is(err, account.ErrExists))

	plus := "PLUS"
	a, err = accounts.Update(ctx, a.ID, account.Changes{Package: &plus})
	if err != nil {
		panic(err)
	}
	fmt.Println(a.ID, a.Name, a.Package, a.Version)

	for i, name := range []string{"Bakery", "Kiosk"} {
		id := fmt.Sprint("acct_", 43+i) // empty: a generated "acct_…" ID
		if _, err := accounts.Create(ctx, account.CreateParams{ID: id, Name: name}); err != nil {
			panic(err)
		}
	}
	f := account.ListFilter{Limit: 2}
	for {
		page, err := accounts.List(ctx, f)
		if err != nil {
			panic(err)
		}
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			fmt.Println("listed:", a.Name)
		}
		last := page[len(page)-1]
		f.AfterCreated, f.AfterID = last.Created, last.ID
	}
	// Output:
	// audit: account.created by admin@example.com
	// true
	// audit: account.updated by admin@example.com
	// acct_42 Corner Shop PLUS 2
	// audit: account.created by admin@example.com
	// audit: account.created by admin@example.com
	// listed: Corner Shop
	// listed: Bakery
	// listed: Kiosk
}
