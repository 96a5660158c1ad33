package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/keygate/keygate/audit"
)

// auditGroup is "keygate audit": the audit history through the admin API.
var auditGroup = &cliGroup{
	name:    "audit",
	summary: "Query the audit history through the admin API.",
	commands: []cliSub{
		{"query", "[--key-id ID] [--account A] [--mode M] [--store S] [--ip IP] [--decision D] [--reason R] [--action A] [--since TIME] [--until TIME] [--limit N] [--all]", auditQuery},
	},
}

// eventText describes what happened: the request and its status, the
// management action and its actor, or lost events.
func eventText(e *audit.Event) string {
	switch {
	case e.Gap > 0:
		return fmt.Sprintf("%d events lost", e.Gap)
	case e.Action != "" && e.Actor != "":
		return e.Action + " by " + e.Actor
	case e.Action != "":
		return e.Action
	case e.Method != "" || e.Path != "":
		s := e.Method + " " + e.Path
		if e.Status != 0 {
			s += " " + strconv.Itoa(e.Status)
		}
		return s
	}
	return ""
}

// printAuditTable prints audit events as a table.
func printAuditTable(w io.Writer, items []json.RawMessage) error {
	events, err := decodeItems[audit.Event](items)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "TIME", "EVENT", "DECISION", "REASON", "KEY ID", "ACCOUNT", "MODE", "STORE", "IP")
	for _, e := range events {
		keyID := e.KeyID
		if keyID == "" {
			keyID = e.Subject
		}
		row(tw, timeText(e.Time), eventText(&e), string(e.Decision), e.Reason, keyID, e.Account, e.Mode, e.Store, e.IP)
	}
	return tw.Flush()
}

// auditQuery is "keygate audit query".
func auditQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("audit query",
		"audit query [--key-id ID] [--account A] [--mode M] [--store S] [--ip IP] [--decision D] [--reason R] [--action A] [--since TIME] [--until TIME] [--limit N] [--cursor C] [--all] [--json]",
		`Lists audit events, newest first: one per request (with its decision and
reason) and one per management action (with its actor). Filters combine.`,
		stdout, stderr)
	filters := []struct{ flag, param, help string }{
		{"key-id", "key_id", "only events of this key `ID` (an API key's or HMAC credential's, or a token's client)"},
		{"account", "account", "only events of this `account`"},
		{"mode", "mode", "only events of this `mode`, test or live"},
		{"store", "store", "only events for this `store`"},
		{"ip", "ip", "only events from this client `IP`"},
		{"decision", "decision", "only events with this `decision`, such as allow or deny"},
		{"reason", "reason", "only events with this `reason`, such as invalid_token"},
		{"action", "action", "only management events with this `action`, such as key.revoked"},
	}
	values := make([]string, len(filters))
	for i, f := range filters {
		c.fs.StringVar(&values[i], f.flag, "", f.help)
	}
	var since, until timeFlag
	c.fs.Var(&since, "since", "only events at or after this RFC 3339 `time`")
	c.fs.Var(&until, "until", "only events before this RFC 3339 `time`")
	var o listOptions
	o.flags(c.fs)
	if _, err := c.parse(args); err != nil {
		return err
	}
	if err := c.checkMode(values[2], false); err != nil {
		return err
	}
	if err := o.check(c); err != nil {
		return err
	}
	if !since.t.IsZero() && !until.t.IsZero() && !since.t.Before(until.t) {
		return c.usageError("--since must be before --until")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for i, f := range filters {
		if values[i] != "" {
			q.Set(f.param, values[i])
		}
	}
	if s := since.String(); s != "" {
		q.Set("since", s)
	}
	if s := until.String(); s != "" {
		q.Set("until", s)
	}
	items, next, err := api.list(ctx, "/audit", q, o)
	if err != nil {
		return err
	}
	return c.printList(items, next, "audit events", printAuditTable)
}
