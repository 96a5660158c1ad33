package main

import (
	"context"
	"fmt"
	"io"
)

// tokensGroup is "keygate tokens": access and refresh tokens through the
// admin API.
var tokensGroup = &cliGroup{
	name:    "tokens",
	summary: "Revoke access and refresh tokens through the admin API.",
	commands: []cliSub{
		{"revoke", "(--jti J | --subject S | --family F)", tokensRevoke},
	},
}

// tokensRevoke is "keygate tokens revoke".
func tokensRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("tokens revoke", "tokens revoke (--jti J | --subject S | --family F) [--idempotency-key K] [--json]",
		`Revokes one token by its jti, every token of a subject (a user, or a
client's key ID), or a refresh-token family (a session).`,
		stdout, stderr)
	var jti, subject, family string
	c.fs.StringVar(&jti, "jti", "", "revoke the token with this `jti`")
	c.fs.StringVar(&subject, "subject", "", "revoke every token of this `subject`")
	c.fs.StringVar(&family, "family", "", "revoke this refresh-token `family`")
	c.idempotencyFlag()
	if _, err := c.parse(args); err != nil {
		return err
	}
	body := map[string]string{}
	for name, v := range map[string]string{"jti": jti, "subject": subject, "family": family} {
		if v != "" {
			body[name] = v
		}
	}
	if len(body) != 1 {
		return c.usageError("pass exactly one of --jti, --subject and --family")
	}
	api, err := c.client()
	if err != nil {
		return err
	}
	r, err := api.post(ctx, "/tokens/revoke", body)
	if err != nil {
		return err
	}
	c.replayNote(r, "response")
	if c.jsonOut {
		return c.printJSON(r.body)
	}
	out, err := decodeBody[struct {
		Revoked string `json:"revoked"`
		ID      string `json:"id"`
	}](r.body)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Revoked: %s %s\n", oneLine(out.Revoked), oneLine(out.ID))
	return nil
}
