package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/keygate/keygate/admin"
)

// hmacGroup is "keygate hmac-keys": HMAC credentials through the admin API.
var hmacGroup = &cliGroup{
	name:    "hmac-keys",
	summary: "Manage HMAC credentials (for signed requests) through the admin API. Secrets are shown once, by create and rotate.",
	commands: []cliSub{
		{"create", "--account A --mode test|live [--name N] [--permissions P,...] [...]", hmacCreate},
		{"list", "[--account A] [--mode M] [--limit N] [--cursor C] [--all]", hmacList},
		{"show", "ID", hmacShow},
		{"rotate", "ID [--grace 0s]", hmacRotate},
		{"revoke", "ID", hmacRevoke},
	},
}

// hmacState is the credential's status, with "(disabled)" when it is
// disabled.
func hmacState(h *admin.HMACKey) string {
	if h.Disabled {
		return h.Status + " (disabled)"
	}
	return h.Status
}

// printHMACTable prints HMAC credentials as a table.
func printHMACTable(w io.Writer, items []json.RawMessage) error {
	creds, err := decodeItems[admin.HMACKey](items)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "ID", "ACCOUNT", "MODE", "STATUS", "NAME", "CREATED", "EXPIRES")
	for _, h := range creds {
		row(tw, h.ID, h.Account, h.Mode, hmacState(&h), h.Name, timeText(h.Created), timeText(h.Expires))
	}
	return tw.Flush()
}

// printHMACDetails prints one credential, a field a line.
func printHMACDetails(w io.Writer, h *admin.HMACKey) error {
	return details(w,
		"id", h.ID,
		"account", h.Account,
		"mode", h.Mode,
		"name", h.Name,
		"status", hmacState(h),
		"package", h.Package,
		"stores", joinList(h.Stores),
		"permissions", joinList(h.Permissions),
		"effective permissions", joinList(h.EffectivePermissions),
		"allowed ips", joinList(h.AllowedIPs),
		"denied ips", joinList(h.DeniedIPs),
		"allowed countries", joinList(h.AllowedCountries),
		"denied countries", joinList(h.DeniedCountries),
		"created", timeText(h.Created),
		"expires", timeText(h.Expires),
		"rotated at", timeText(h.RotatedAt),
		"revoked at", timeText(h.RevokedAt),
	)
}

// printHMACWithSecret prints a create or rotate response: the credential
// and its secret, once.
func (c *cliCommand) printHMACWithSecret(r reply) error {
	if c.jsonOut {
		if err := c.printJSON(r.body); err != nil {
			return err
		}
	} else {
		h, err := decodeBody[admin.HMACKey](r.body)
		if err != nil {
			return err
		}
		if err := printHMACDetails(c.stdout, &h); err != nil {
			return err
		}
		if h.Secret != "" {
			tw := newTable(c.stdout)
			fmt.Fprintln(tw)
			fmt.Fprintf(tw, "hmac key id:\t%s\n", oneLine(h.ID))
			fmt.Fprintf(tw, "hmac secret (base64, shown once):\t%s\n", oneLine(h.Secret))
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	c.replayNote(r, "secret")
	if !r.replayed {
		fmt.Fprintf(c.stderr, "keygate %s: store the secret now: it is shown only this once and cannot be shown again\n", c.name)
	}
	return nil
}

// hmacCreate is "keygate hmac-keys create".
func hmacCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("hmac-keys create",
		"hmac-keys create --account A --mode test|live [--name N] [--permissions P,...] [--roles R,...] [--stores S,...] [--allowed-ips ...] [--denied-ips ...] [--allowed-countries ...] [--denied-countries ...] [--expires TIME] [--idempotency-key K] [--json]",
		`Creates an HMAC credential for signed requests ("keygate sign") and prints
its key ID and secret; the secret is shown only this once.`,
		stdout, stderr)
	var f credentialFlags
	f.register(c.fs)
	c.idempotencyFlag()
	if _, err := c.parse(args); err != nil {
		return err
	}
	body, err := f.body(c)
	if err != nil {
		return err
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.post(ctx, "/hmac-keys", body)
	if err != nil {
		return err
	}
	return c.printHMACWithSecret(r)
}

// hmacList is "keygate hmac-keys list".
func hmacList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("hmac-keys list", "hmac-keys list [--account A] [--mode test|live] [--limit N] [--cursor C] [--all] [--json]",
		"Lists HMAC credentials, oldest first, without their secrets.", stdout, stderr)
	var account, mode string
	var o listOptions
	c.fs.StringVar(&account, "account", "", "only the credentials of this `account`")
	c.fs.StringVar(&mode, "mode", "", "only the credentials of this `mode`, test or live")
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
	if account != "" {
		q.Set("account", account)
	}
	if mode != "" {
		q.Set("mode", mode)
	}
	items, next, err := api.list(ctx, "/hmac-keys", q, o)
	if err != nil {
		return err
	}
	return c.printList(items, next, "HMAC credentials", printHMACTable)
}

// hmacShow is "keygate hmac-keys show".
var hmacShow = showCommand("hmac-keys show", "Shows one HMAC credential, without its secret.", "/hmac-keys", (*cliCommand).printHMAC)

// printHMAC prints a response that is one credential without a secret.
func (c *cliCommand) printHMAC(r reply) error {
	return printOne(c, r, printHMACDetails)
}

// hmacRotate is "keygate hmac-keys rotate".
func hmacRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("hmac-keys rotate", "hmac-keys rotate ID [--grace DURATION] [--idempotency-key K] [--json]",
		`Gives the credential a new secret and prints it, once. The credential keeps
its key ID; the previous secret stops working at once, or after --grace.`,
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
	r, err := api.post(ctx, "/hmac-keys/"+pathID(pos[0])+"/rotate", map[string]int64{"grace_seconds": seconds})
	if err != nil {
		return err
	}
	return c.printHMACWithSecret(r)
}

// hmacRevoke is "keygate hmac-keys revoke".
var hmacRevoke = actionCommand("hmac-keys revoke",
	"Revokes the credential at once: the very next request signed with it is refused. Revocation is final.",
	"/hmac-keys", "revoke", func(c *cliCommand, r reply) error {
		if !c.jsonOut {
			fmt.Fprintln(c.stdout, "HMAC credential revoked.")
			fmt.Fprintln(c.stdout)
		}
		return c.printHMAC(r)
	})
