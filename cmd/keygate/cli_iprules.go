package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/keygate/keygate/admin"
)

// ipRulesGroup is "keygate ip-rules": the service-wide and account IP
// allow and deny lists through the admin API.
var ipRulesGroup = &cliGroup{
	name: "ip-rules",
	summary: "Manage the IP allow and deny lists through the admin API: service-wide, or of one account. " +
		"A deny rule wins; a non-empty allow list admits only its addresses; a key's own rules apply on top. Every instance applies a change on the next request.",
	commands: []cliSub{
		{"list", "[--account A | --service]", ipRulesList},
		{"add", "allow|deny CIDR [--account A] [--note N]", ipRulesAdd},
		{"delete", "ID", ipRulesDelete},
	},
}

// scopeText is a rule's account, or "(service)" for a service-wide one.
func scopeText(r *admin.IPRule) string {
	if r.Account == "" {
		return "(service)"
	}
	return r.Account
}

// printIPRuleTable prints rules as a table.
func printIPRuleTable(w io.Writer, items []json.RawMessage) error {
	rules, err := decodeItems[admin.IPRule](items)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "ID", "ACCOUNT", "ACTION", "CIDR", "NOTE", "CREATED", "CREATED BY")
	for _, r := range rules {
		row(tw, r.ID, scopeText(&r), r.Action, r.CIDR, r.Note, timeText(r.Created), r.CreatedBy)
	}
	return tw.Flush()
}

// printIPRuleDetails prints one rule, a field a line.
func printIPRuleDetails(w io.Writer, r *admin.IPRule) error {
	return details(w,
		"id", r.ID,
		"account", scopeText(r),
		"action", r.Action,
		"cidr", r.CIDR,
		"note", r.Note,
		"created", timeText(r.Created),
		"created by", r.CreatedBy,
	)
}

// printIPRule prints a response that is one rule.
func (c *cliCommand) printIPRule(r reply) error {
	return printOne(c, r, printIPRuleDetails)
}

// ipRulesList is "keygate ip-rules list".
func ipRulesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("ip-rules list", "ip-rules list [--account A | --service] [--json]",
		"Lists the IP rules, oldest first: all of them, those of one account, or the service-wide ones.", stdout, stderr)
	var account string
	var service bool
	c.fs.StringVar(&account, "account", "", "only the rules of this `account`")
	c.fs.BoolVar(&service, "service", false, "only the service-wide rules")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if account != "" && service {
		return c.usageError("--account and --service exclude each other")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if account != "" {
		q.Set("account", account)
	}
	if service {
		q.Set("scope", "service")
	}
	items, next, err := api.list(ctx, "/ip-rules", q, listOptions{})
	if err != nil {
		return err
	}
	return c.printList(items, next, "IP rules", printIPRuleTable)
}

// ipRulesAdd is "keygate ip-rules add".
func ipRulesAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("ip-rules add", "ip-rules add allow|deny CIDR [--account A] [--note N] [--idempotency-key K] [--json]",
		`Adds an address or CIDR prefix (IPv4 or IPv6, such as 192.0.2.1, 10.0.0.0/8
or 2001:db8::/32) to the service's allow or deny list, or with --account to
that account's. Every instance applies it on the next request.`,
		stdout, stderr)
	var account, note string
	c.fs.StringVar(&account, "account", "", "the `account` whose credentials the rule applies to (default: every request of the service)")
	c.fs.StringVar(&note, "note", "", "a `note` for people, such as \"office VPN\"")
	c.idempotencyFlag()
	pos, err := c.parse(args, "ACTION", "CIDR")
	if err != nil {
		return err
	}
	if pos[0] != "allow" && pos[0] != "deny" {
		return c.usageError("the action must be allow or deny")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.post(ctx, "/ip-rules", struct {
		Account string `json:"account,omitempty"`
		Action  string `json:"action"`
		CIDR    string `json:"cidr"`
		Note    string `json:"note,omitempty"`
	}{account, pos[0], pos[1], note})
	if err != nil {
		return err
	}
	c.replayNote(r, "response")
	return c.printIPRule(r)
}

// ipRulesDelete is "keygate ip-rules delete".
func ipRulesDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("ip-rules delete", "ip-rules delete ID [--json]",
		"Deletes an IP rule and prints it as it was. Every instance stops applying it on the next request.", stdout, stderr)
	pos, err := c.parse(args, "ID")
	if err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.do(ctx, http.MethodDelete, "/ip-rules/"+pathID(pos[0]), nil, nil)
	if err != nil {
		return err
	}
	return c.printIPRule(r)
}
