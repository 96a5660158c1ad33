package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/keygate/keygate/admin"
)

// accountsGroup is "keygate accounts": accounts through the admin API.
var accountsGroup = &cliGroup{
	name:    "accounts",
	summary: "Manage accounts through the admin API. An account's package applies to all of its keys.",
	commands: []cliSub{
		{"create", "--name N [--package P] [--id ID]", accountsCreate},
		{"list", "[--limit N] [--cursor C] [--all]", accountsList},
		{"show", "ID", accountsShow},
		{"update", "ID [--name N] [--package P]", accountsUpdate},
		{"disable", "ID", accountsAction("disable", "disabled",
			"Disables the account: every API key, HMAC credential and token of it is refused on its next request, until \"keygate accounts enable\".")},
		{"enable", "ID", accountsAction("enable", "enabled", "Enables a disabled account again.")},
	},
}

// accountState is "disabled" for a disabled account, else "active".
func accountState(a *admin.Account) string {
	if a.Disabled {
		return "disabled"
	}
	return "active"
}

// printAccountTable prints accounts as a table.
func printAccountTable(w io.Writer, items []json.RawMessage) error {
	accounts, err := decodeItems[admin.Account](items)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "ID", "NAME", "PACKAGE", "CREATED", "UPDATED")
	for _, a := range accounts {
		row(tw, a.ID, a.Name, a.Package, timeText(a.Created), timeText(a.Updated))
	}
	return tw.Flush()
}

// printAccount prints a response that is one account.
func (c *cliCommand) printAccount(r reply) error {
	return printOne(c, r, printAccountDetails)
}

// printAccountDetails prints one account, a field a line.
func printAccountDetails(w io.Writer, a *admin.Account) error {
	return details(w,
		"id", a.ID,
		"name", a.Name,
		"package", a.Package,
		"status", accountState(a),
		"created", timeText(a.Created),
		"updated", timeText(a.Updated),
	)
}

// accountsCreate is "keygate accounts create".
func accountsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("accounts create", "accounts create --name N [--package P] [--id ID] [--idempotency-key K] [--json]",
		"Creates an account, which API keys and HMAC credentials then belong to.", stdout, stderr)
	var id, name, pkg string
	c.fs.StringVar(&name, "name", "", "the account's `name` (required)")
	c.fs.StringVar(&pkg, "package", "", "the account's `package` (its commercial plan), such as GO; it applies to all of its keys")
	c.fs.StringVar(&id, "id", "", "the account's `ID` (default: a generated acct_...)")
	c.idempotencyFlag()
	if _, err := c.parse(args); err != nil {
		return err
	}
	if name == "" {
		return c.usageError("--name is required")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.post(ctx, "/accounts", struct {
		ID      string `json:"id,omitempty"`
		Name    string `json:"name"`
		Package string `json:"package,omitempty"`
	}{id, name, pkg})
	if err != nil {
		return err
	}
	c.replayNote(r, "response")
	return c.printAccount(r)
}

// accountsList is "keygate accounts list".
func accountsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("accounts list", "accounts list [--limit N] [--cursor C] [--all] [--json]",
		"Lists accounts, oldest first.", stdout, stderr)
	var o listOptions
	o.flags(c.fs)
	if _, err := c.parse(args); err != nil {
		return err
	}
	if err := o.check(c); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	items, next, err := api.list(ctx, "/accounts", nil, o)
	if err != nil {
		return err
	}
	return c.printList(items, next, "accounts", printAccountTable)
}

// accountsShow is "keygate accounts show".
var accountsShow = showCommand("accounts show", "Shows one account.", "/accounts", (*cliCommand).printAccount)

// accountsUpdate is "keygate accounts update".
func accountsUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("accounts update", "accounts update ID [--name N] [--package P] [--json]",
		"Renames an account or changes its package; a new package applies to every key and HMAC credential of the account.",
		stdout, stderr)
	var name, pkg string
	c.fs.StringVar(&name, "name", "", "the account's new `name`")
	c.fs.StringVar(&pkg, "package", "", "the account's new `package`")
	pos, err := c.parse(args, "ID")
	if err != nil {
		return err
	}
	if name == "" && pkg == "" {
		return c.usageError("nothing to change: pass --name or --package")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.patch(ctx, "/accounts/"+pathID(pos[0]), struct {
		Name    string `json:"name,omitempty"`
		Package string `json:"package,omitempty"`
	}{name, pkg})
	if err != nil {
		return err
	}
	if !c.jsonOut {
		fmt.Fprintln(stdout, "Account updated.")
		fmt.Fprintln(stdout)
	}
	return c.printAccount(r)
}

// accountsAction returns the command "keygate accounts <action> ID", a
// POST to /accounts/ID/<action>; done is what the account became.
func accountsAction(action, done, about string) func(context.Context, []string, io.Writer, io.Writer) error {
	return actionCommand("accounts "+action, about, "/accounts", action, func(c *cliCommand, r reply) error {
		return printOne(c, r, func(w io.Writer, a *admin.Account) error {
			fmt.Fprintf(w, "Account %s %s.\n\n", oneLine(a.ID), done)
			return printAccountDetails(w, a)
		})
	})
}
