package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/keygate/keygate/admin"
)

// keysGroup is "keygate keys": API keys through the admin API.
var keysGroup = &cliGroup{
	name:    "keys",
	summary: "Manage API keys through the admin API. Plaintext keys are shown once, by create and rotate.",
	commands: []cliSub{
		{"create", "--account A --mode test|live [--kind pk|sk] [--name N] [--permissions P,...] [...]", keysCreate},
		{"list", "[--account A] [--mode M] [--status S] [--limit N] [--cursor C] [--all]", keysList},
		{"show", "ID", keysShow},
		{"rotate", "ID [--grace 0s]", keysRotate},
		{"revoke", "ID", keysAction("revoke", "revoked", "Revokes the key at once: the very next request with it is refused. Revocation is final.")},
		{"approve", "ID", keysAction("approve", "approved", "Approves a live key that is pending review (needs admin:review), so that it starts working.")},
		{"disable", "ID", keysAction("disable", "disabled", "Disables the key until \"keygate keys enable\".")},
		{"enable", "ID", keysAction("enable", "enabled", "Enables a disabled key again.")},
	},
}

// keyState is the key's status, with "(disabled)" when it is disabled.
func keyState(k *admin.Key) string {
	if k.Disabled {
		return k.Status + " (disabled)"
	}
	return k.Status
}

// maskedKey is the key's prefix and last four characters, the most of it
// that is ever shown after creation.
func maskedKey(k *admin.Key) string {
	if k.Prefix == "" && k.Last4 == "" {
		return ""
	}
	return k.Prefix + "..." + k.Last4
}

// kindName is "secret" or "publishable".
func kindName(kind string) string {
	switch kind {
	case "sk":
		return "secret"
	case "pk":
		return "publishable"
	}
	return kind
}

// printKeyDetails prints one key, a field a line.
func printKeyDetails(w io.Writer, k *admin.Key) error {
	return details(w,
		"id", k.ID,
		"account", k.Account,
		"mode", k.Mode,
		"kind", k.Kind,
		"name", k.Name,
		"status", keyState(k),
		"key", maskedKey(k),
		"package", k.Package,
		"stores", joinList(k.Stores),
		"permissions", joinList(k.Permissions),
		"effective permissions", joinList(k.EffectivePermissions),
		"allowed ips", joinList(k.AllowedIPs),
		"denied ips", joinList(k.DeniedIPs),
		"allowed countries", joinList(k.AllowedCountries),
		"denied countries", joinList(k.DeniedCountries),
		"created", timeText(k.Created),
		"created by", k.CreatedBy,
		"permissions set by", k.PermissionsSetBy,
		"expires", timeText(k.Expires),
		"last used", timeText(k.LastUsed),
		"approved by", k.ApprovedBy,
		"approved at", timeText(k.ApprovedAt),
		"rotated at", timeText(k.RotatedAt),
		"revoked at", timeText(k.RevokedAt),
	)
}

// printKeyTable prints keys as a table.
func printKeyTable(w io.Writer, items []json.RawMessage) error {
	keys, err := decodeItems[admin.Key](items)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "ID", "ACCOUNT", "MODE", "KIND", "STATUS", "NAME", "KEY", "CREATED", "LAST USED")
	for _, k := range keys {
		row(tw, k.ID, k.Account, k.Mode, k.Kind, keyState(&k), k.Name, maskedKey(&k), timeText(k.Created), timeText(k.LastUsed))
	}
	return tw.Flush()
}

// credentialFlags are the settings of a new API key or HMAC credential.
type credentialFlags struct {
	account, mode, name string
	stores              listFlag
	permissions         listFlag
	roles               listFlag
	allowedIPs          listFlag
	deniedIPs           listFlag
	allowedCountries    listFlag
	deniedCountries     listFlag
	expires             timeFlag
}

// register adds the flags to fs.
func (f *credentialFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.account, "account", "", "the `account` (required; it must exist)")
	fs.StringVar(&f.mode, "mode", "", "`test` or live (required; live keys start pending review)")
	fs.StringVar(&f.name, "name", "", "a `name` to recognise it by")
	fs.Var(&f.permissions, "permissions", "comma-separated `permissions`, such as products:read,orders:write")
	fs.Var(&f.roles, "roles", "comma-separated `roles`, whose permissions are added")
	fs.Var(&f.stores, "stores", "comma-separated store `IDs` it may select (X-Store-Id)")
	fs.Var(&f.allowedIPs, "allowed-ips", "comma-separated IP addresses or CIDR `prefixes` it may be used from")
	fs.Var(&f.deniedIPs, "denied-ips", "comma-separated IP addresses or CIDR `prefixes` it may not be used from")
	fs.Var(&f.allowedCountries, "allowed-countries", "comma-separated ISO 3166 `codes` of the countries it may be used from")
	fs.Var(&f.deniedCountries, "denied-countries", "comma-separated ISO 3166 `codes` of the countries it may not be used from")
	fs.Var(&f.expires, "expires", "when it stops working, an RFC 3339 `time` such as 2030-01-02T15:04:05Z")
}

// credentialBody is the JSON of the settings of a new credential, for
// POST /keys (with kind) and POST /hmac-keys. It is not the admin
// package's request type, which is unexported and made for decoding:
// expires is raw JSON there (to tell a malformed time from a missing
// one), and it has kind, a member /hmac-keys refuses as unknown.
type credentialBody struct {
	Account          string   `json:"account"`
	Mode             string   `json:"mode"`
	Name             string   `json:"name,omitempty"`
	Stores           []string `json:"stores,omitempty"`
	Permissions      []string `json:"permissions,omitempty"`
	Roles            []string `json:"roles,omitempty"`
	AllowedIPs       []string `json:"allowed_ips,omitempty"`
	DeniedIPs        []string `json:"denied_ips,omitempty"`
	AllowedCountries []string `json:"allowed_countries,omitempty"`
	DeniedCountries  []string `json:"denied_countries,omitempty"`
	Expires          string   `json:"expires,omitempty"`
}

// body checks the required flags and returns the request body.
func (f *credentialFlags) body(c *cliCommand) (credentialBody, error) {
	if f.account == "" {
		return credentialBody{}, c.usageError("--account is required")
	}
	if err := c.checkMode(f.mode, true); err != nil {
		return credentialBody{}, err
	}
	return credentialBody{
		Account: f.account, Mode: f.mode, Name: f.name,
		Stores: f.stores, Permissions: f.permissions, Roles: f.roles,
		AllowedIPs: f.allowedIPs, DeniedIPs: f.deniedIPs,
		AllowedCountries: f.allowedCountries, DeniedCountries: f.deniedCountries,
		Expires: f.expires.String(),
	}, nil
}

// keysCreate is "keygate keys create".
func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("keys create",
		"keys create --account A --mode test|live [--kind pk|sk] [--name N] [--permissions P,...] [--roles R,...] [--stores S,...] [--allowed-ips ...] [--denied-ips ...] [--allowed-countries ...] [--denied-countries ...] [--expires TIME] [--idempotency-key K] [--json]",
		`Creates an API key pair (publishable and secret) for an account, or with
--kind only one key, and prints the plaintext keys: the only time they are
ever shown. Live keys start pending review ("keygate keys approve ID").`,
		stdout, stderr)
	var f credentialFlags
	f.register(c.fs)
	var kind string
	c.fs.StringVar(&kind, "kind", "", "create only one key, `pk` (publishable) or sk (secret); default: the pair")
	c.idempotencyFlag()
	if _, err := c.parse(args); err != nil {
		return err
	}
	body, err := f.body(c)
	if err != nil {
		return err
	}
	if kind != "" && kind != "pk" && kind != "sk" {
		return c.usageError("--kind must be pk or sk")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.post(ctx, "/keys", struct {
		credentialBody
		Kind string `json:"kind,omitempty"`
	}{body, kind})
	if err != nil {
		return err
	}
	created, err := decodeBody[admin.KeyPair](r.body)
	if err != nil {
		return err
	}
	keys := make([]*admin.Key, 0, 2)
	for _, k := range []*admin.Key{created.Publishable, created.Secret} {
		if k != nil {
			keys = append(keys, k)
		}
	}
	if c.jsonOut {
		if err := c.printJSON(r.body); err != nil {
			return err
		}
	} else {
		tw := newTable(stdout)
		row(tw, "ID", "ACCOUNT", "MODE", "KIND", "STATUS", "NAME", "PACKAGE")
		for _, k := range keys {
			row(tw, k.ID, k.Account, k.Mode, k.Kind, keyState(k), k.Name, k.Package)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		shown := false
		tw = newTable(stdout)
		for _, k := range keys {
			if k.Key != "" {
				if !shown {
					fmt.Fprintln(tw)
				}
				shown = true
				fmt.Fprintf(tw, "%s key (shown once):\t%s\n", kindName(k.Kind), oneLine(k.Key))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	c.replayNote(r, "plaintext key")
	if !r.replayed {
		fmt.Fprintf(stderr, "keygate %s: store the plaintext keys now: they are shown only this once and cannot be shown again\n", c.name)
	}
	for _, k := range keys {
		if k.Status == "pending_review" {
			fmt.Fprintf(stderr, "keygate %s: key %s is pending review: it works once approved with \"keygate keys approve %s\" (admin:review, and on a server that separates review, not by the key that created it)\n", c.name, oneLine(k.ID), oneLine(k.ID))
		}
	}
	return nil
}

// keysList is "keygate keys list".
func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("keys list",
		"keys list [--account A] [--mode test|live] [--status active|pending_review|revoked] [--limit N] [--cursor C] [--all] [--json]",
		"Lists API keys, oldest first, without their secrets: the prefix and last four characters identify them.",
		stdout, stderr)
	var account, mode, status string
	var o listOptions
	c.fs.StringVar(&account, "account", "", "only the keys of this `account`")
	c.fs.StringVar(&mode, "mode", "", "only the keys of this `mode`, test or live")
	c.fs.StringVar(&status, "status", "", "only the keys with this `status`: active, pending_review or revoked")
	o.flags(c.fs)
	if _, err := c.parse(args); err != nil {
		return err
	}
	if err := c.checkMode(mode, false); err != nil {
		return err
	}
	if err := o.check(c); err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for name, v := range map[string]string{"account": account, "mode": mode, "status": status} {
		if v != "" {
			q.Set(name, v)
		}
	}
	items, next, err := api.list(ctx, "/keys", q, o)
	if err != nil {
		return err
	}
	return c.printList(items, next, "keys", printKeyTable)
}

// keysShow is "keygate keys show".
var keysShow = showCommand("keys show", "Shows one API key, without its secret.", "/keys", func(c *cliCommand, r reply) error {
	return printOne(c, r, printKeyDetails)
})

// keysRotate is "keygate keys rotate".
func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("keys rotate", "keys rotate ID [--grace DURATION] [--idempotency-key K] [--json]",
		`Gives the key a new secret and prints it, once. The key keeps its ID and
settings; the previous secret stops working at once, or after --grace.`,
		stdout, stderr)
	var grace time.Duration
	c.fs.DurationVar(&grace, "grace", 0, "how long the previous secret keeps working, a Go `duration` in whole seconds such as 0s, 90s or 24h (at most 30 days)")
	c.idempotencyFlag()
	pos, err := c.parse(args, "ID")
	if err != nil {
		return err
	}
	seconds, err := c.graceSeconds(grace)
	if err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.post(ctx, "/keys/"+pathID(pos[0])+"/rotate", map[string]int64{"grace_seconds": seconds})
	if err != nil {
		return err
	}
	if c.jsonOut {
		if err := c.printJSON(r.body); err != nil {
			return err
		}
	} else {
		k, err := decodeBody[admin.Key](r.body)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Rotated key %s (%s, %s %s, account %s).\n", oneLine(k.ID), oneLine(keyState(&k)), oneLine(k.Mode), oneLine(kindName(k.Kind)), oneLine(k.Account))
		if k.Key != "" {
			fmt.Fprintf(stdout, "new %s key (shown once): %s\n", kindName(k.Kind), oneLine(k.Key))
		}
	}
	c.replayNote(r, "new key")
	if grace == 0 {
		fmt.Fprintf(stderr, "keygate %s: the previous secret no longer works\n", c.name)
	} else {
		fmt.Fprintf(stderr, "keygate %s: the previous secret keeps working for %v\n", c.name, grace)
	}
	return nil
}

// keysAction returns the command "keygate keys <action> ID", a POST to
// /keys/{id}/<action> that answers with the key.
func keysAction(action, done, about string) func(context.Context, []string, io.Writer, io.Writer) error {
	return actionCommand("keys "+action, about, "/keys", action, func(c *cliCommand, r reply) error {
		return printOne(c, r, func(w io.Writer, k *admin.Key) error {
			fmt.Fprintf(w, "Key %s %s.\n\n", oneLine(k.ID), done)
			return printKeyDetails(w, k)
		})
	})
}
