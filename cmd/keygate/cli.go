package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keygate/keygate/admin"
	"github.com/keygate/keygate/apikey"
)

// Environment variables the admin commands fall back on when --server or
// --admin-key is not given.
const (
	envURL      = "KEYGATE_URL"
	envAdminKey = "KEYGATE_ADMIN_KEY"
)

const (
	// defaultServer is the server the admin commands talk to without
	// --server or $KEYGATE_URL: keygate serve's default address.
	defaultServer = "http://127.0.0.1:8080"
	// adminPrefix is where the reference server mounts the admin API.
	adminPrefix = "/admin/v1"
	// cliTimeout bounds one HTTP exchange with the admin API.
	cliTimeout = 30 * time.Second
	// maxResponseBytes bounds what is read of one admin API response.
	maxResponseBytes = 32 << 20
	// retryDelay is the pause before a POST is sent again after a
	// connection error.
	retryDelay = 500 * time.Millisecond
)

// cliGroup is a command with subcommands, such as "keygate keys".
type cliGroup struct {
	name     string // "keys"
	summary  string // one line, for the usage text
	commands []cliSub
}

// cliSub is one subcommand of a group, such as "keys create".
type cliSub struct {
	name     string // "create"
	synopsis string // its arguments, for the group's usage text
	run      func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// usage returns the group's usage text.
func (g *cliGroup) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: keygate %s <command> [flags]\n\n%s\n\ncommands:\n", g.name, g.summary)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range g.commands {
		fmt.Fprintf(tw, "  keygate %s %s\t%s\n", g.name, c.name, c.synopsis)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n%s\n\nRun \"keygate %s <command> -h\" for the flags of a command.\n", remoteFlagsHelp, g.name)
	return b.String()
}

// remoteFlagsHelp describes the flags every admin API command takes.
const remoteFlagsHelp = `Every command takes --server URL (default $` + envURL + `, else ` + defaultServer + `),
--admin-key KEY (default $` + envAdminKey + `) and --json (the API's JSON instead of a table).
Flags may come before or after the arguments.`

// run runs the subcommand args[0] with the rest of args. Errors other
// than usage errors are prefixed with the command's name.
func (g *cliGroup) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, g.usage())
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, g.usage())
		return nil
	}
	for _, c := range g.commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return nil // the help has been printed
		case err != nil && !errors.Is(err, errUsage):
			return fmt.Errorf("%s %s: %w", g.name, c.name, err)
		}
		return err
	}
	// The argument is not echoed: it could be a misplaced secret.
	fmt.Fprintf(stderr, "keygate %s: unknown command\n\n%s", g.name, g.usage())
	return errUsage
}

// cliCommand is one admin command being run: its flags, the shared ones
// (--server, --admin-key, --json) included, and where it writes.
type cliCommand struct {
	name     string // "keys create"
	synopsis string // the command line, after "keygate "
	about    string // what it does, for -h
	fs       *flag.FlagSet
	stdout   io.Writer
	stderr   io.Writer

	server         string
	adminKey       string
	jsonOut        bool
	idempotencyKey string
}

// newCommand returns a command with the flags every admin API command
// takes.
func newCommand(name, synopsis, about string, stdout, stderr io.Writer) *cliCommand {
	c := &cliCommand{name: name, synopsis: synopsis, about: about, stdout: stdout, stderr: stderr}
	c.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package quotes bad values in its errors, and a misplaced
	// admin key would be quoted: its messages go nowhere, and parse prints
	// its own.
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	// No default comes from the environment here: PrintDefaults would show
	// the admin key.
	c.fs.StringVar(&c.server, "server", "", "the keygate server's base `URL` (default $"+envURL+", else "+defaultServer+"); the admin API is under "+adminPrefix)
	c.fs.StringVar(&c.adminKey, "admin-key", "", "an API `key` with admin permissions (default $"+envAdminKey+"; prefer it, other local users can see command lines)")
	c.fs.BoolVar(&c.jsonOut, "json", false, "print the API's JSON (for lists, the array of items) instead of a table")
	return c
}

// idempotencyFlag adds --idempotency-key to a command that sends a POST.
func (c *cliCommand) idempotencyFlag() {
	c.fs.StringVar(&c.idempotencyKey, "idempotency-key", "", "the request's Idempotency-Key (default: a random one); the same `key` repeats a command safely within 24 hours")
}

// help prints the command's full usage to w.
func (c *cliCommand) help(w io.Writer) {
	fmt.Fprintf(w, "usage: keygate %s\n\n%s\n\nflags:\n", c.synopsis, c.about)
	c.fs.SetOutput(w)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
}

// usageError prints a one-line message and the command's synopsis, and
// returns errUsage.
func (c *cliCommand) usageError(format string, a ...any) error {
	fmt.Fprintf(c.stderr, "keygate %s: %s\n", c.name, fmt.Sprintf(format, a...))
	fmt.Fprintf(c.stderr, "usage: keygate %s\nRun \"keygate %s -h\" for help.\n", c.synopsis, c.name)
	return errUsage
}

// parse parses args, with flags anywhere: before, between or after the
// positional arguments ("keygate keys show ID --json"); after "--" every
// argument is positional. It returns the positional arguments, which must
// number exactly len(names) (their names, for the messages); -h prints the
// help and returns flag.ErrHelp.
func (c *cliCommand) parse(args []string, names ...string) ([]string, error) {
	var positional []string
	for rest := args; ; {
		if err := c.fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.help(c.stdout)
				return nil, flag.ErrHelp
			}
			return nil, c.usageError("%s", withoutQuotedValues(err.Error()))
		}
		remaining := c.fs.Args()
		if len(remaining) == 0 {
			break
		}
		if consumed := len(rest) - len(remaining); consumed > 0 && rest[consumed-1] == "--" {
			positional = append(positional, remaining...)
			break
		}
		positional = append(positional, remaining[0])
		rest = remaining[1:]
	}
	// Arguments are never echoed: a misplaced flag can turn the admin key
	// into one ("--server --admin-key KEY").
	switch {
	case len(positional) < len(names):
		return nil, c.usageError("missing the %s argument", names[len(positional)])
	case len(positional) > len(names) && len(names) == 0:
		return nil, c.usageError("unexpected argument (this command takes only flags)")
	case len(positional) > len(names):
		return nil, c.usageError("too many arguments: want only %s", strings.Join(names, " "))
	}
	for i, p := range positional {
		if p == "" {
			return nil, c.usageError("the %s argument is empty", names[i])
		}
		// A whole API key where an ID belongs would be sent in a URL path,
		// which servers log: refuse it, naming the public ID to use.
		if info, err := apikey.Parse(p); err == nil {
			return nil, c.usageError("the %s argument is a whole API key, which should not be on a command line: pass its key ID, %s", names[i], info.ID)
		}
	}
	if c.idempotencyKey != "" && !validIdempotencyKey(c.idempotencyKey) {
		return nil, c.usageError("--idempotency-key: want 1 to 255 printable ASCII characters")
	}
	return positional, nil
}

// client returns the admin API client for the command's --server and
// --admin-key, or their environment variables.
func (c *cliCommand) client() (*adminClient, error) {
	server, source := c.server, "--server"
	if server == "" {
		server, source = os.Getenv(envURL), envURL
	}
	if server == "" {
		server = defaultServer
	}
	base, err := adminBase(server)
	if err != nil {
		return nil, c.usageError("%s: %v", source, err)
	}
	key, source := c.adminKey, "--admin-key"
	if key == "" {
		key, source = os.Getenv(envAdminKey), envAdminKey
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, c.usageError("no admin key: pass --admin-key or set %s", envAdminKey)
	}
	if !printableASCII(key) {
		return nil, c.usageError("the admin key (%s) must be printable ASCII without spaces", source)
	}
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		fmt.Fprintf(c.stderr, "keygate %s: warning: the admin key is sent without TLS to %s; use https:// outside this machine\n", c.name, base.Host)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &adminClient{
		base: base.String(),
		key:  key,
		http: &http.Client{
			Transport: transport,
			Timeout:   cliTimeout,
			// A redirected request would carry the admin key elsewhere, or
			// lose its method and body.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		idempotencyKey: c.idempotencyKey,
	}, nil
}

// validIdempotencyKey reports whether k is 1 to 255 printable ASCII
// characters, as the admin API requires of an Idempotency-Key.
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

// adminBase returns the admin API's base URL for a server URL: the
// server's URL with adminPrefix appended, unless it already ends with it.
func adminBase(server string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(server))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("want an absolute http:// or https:// URL with a host, such as " + defaultServer)
	}
	if u.User != nil {
		return nil, errors.New("the URL must not carry a user name or password")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("the URL must not have a query or a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if !strings.HasSuffix(u.Path, adminPrefix) {
		u.Path += adminPrefix
	}
	return u, nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adminClient calls the admin API.
type adminClient struct {
	base           string // the API's base URL, without a trailing slash
	key            string // the admin key: sent, never printed
	http           *http.Client
	idempotencyKey string // for POSTs; empty: a random one per call
}

// reply is a successful (2xx) admin API response.
type reply struct {
	status int
	body   []byte
	// replayed is set when the server answered a POST with the response
	// to an earlier request with the same Idempotency-Key: nothing new was
	// done, and any plaintext secret is absent.
	replayed bool
}

// apiError is an admin API error response (the admin package's wire
// type, [admin.Error], with the command line's message), or a non-2xx
// response that is not one.
type apiError admin.Error

// Error returns a one-line message: the code, the description, the HTTP
// status and the field errors, in field order.
func (e *apiError) Error() string {
	var b strings.Builder
	if e.Code == "" {
		fmt.Fprintf(&b, "HTTP %d %s", e.Status, http.StatusText(e.Status))
	} else {
		b.WriteString(oneLine(e.Code))
		if e.Description != "" {
			b.WriteString(": " + oneLine(e.Description))
		}
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + oneLine(name) + ": " + oneLine(e.Fields[name]))
	}
	switch {
	case e.Code == "" && e.Status >= 300 && e.Status < 400:
		b.WriteString(" (redirects are not followed: check --server)")
	case e.Code == "" && e.Status == http.StatusNotFound:
		b.WriteString(" (is --server a keygate server with the admin API?)")
	case e.Status == http.StatusUnauthorized:
		b.WriteString(" (check --admin-key or $" + envAdminKey + ")")
	}
	return b.String()
}

// oneLine returns s with control characters (newlines, escapes) replaced,
// so that a message from the server stays on one line and cannot drive
// the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			return '?'
		}
		return r
	}, s)
}

// get sends a GET request for path (relative to the API's base) with the
// query.
func (c *adminClient) get(ctx context.Context, path string, query url.Values) (reply, error) {
	return c.do(ctx, http.MethodGet, path, query, nil)
}

// post sends a POST request for path with the JSON of in as its body (an
// empty object when in is nil) and an Idempotency-Key.
func (c *adminClient) post(ctx context.Context, path string, in any) (reply, error) {
	if in == nil {
		in = struct{}{}
	}
	return c.do(ctx, http.MethodPost, path, nil, in)
}

// patch sends a PATCH request for path with the JSON of in as its body.
func (c *adminClient) patch(ctx context.Context, path string, in any) (reply, error) {
	return c.do(ctx, http.MethodPatch, path, nil, in)
}

// do sends one request and returns its 2xx response, or an error: an
// *apiError for any other status. A POST carries an Idempotency-Key and is
// sent once more, with the same key, if the first attempt fails to get a
// response: the server then does the work at most once.
func (c *adminClient) do(ctx context.Context, method, path string, query url.Values, in any) (reply, error) {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return reply{}, err
		}
	}
	idempotencyKey := c.idempotencyKey
	if method == http.MethodPost && idempotencyKey == "" {
		idempotencyKey = "keygate-cli-" + rand.Text()
	}
	attempts := 1
	if method == http.MethodPost {
		attempts = 2
	}
	var resp *http.Response
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return reply{}, err
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "keygate-cli")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", idempotencyKey)
		}
		resp, err = c.http.Do(req)
		if err == nil {
			break
		}
		if attempt >= attempts || ctx.Err() != nil {
			return reply{}, transportError(err)
		}
		select {
		case <-ctx.Done():
			return reply{}, transportError(err)
		case <-time.After(retryDelay):
		}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return reply{}, fmt.Errorf("reading the response: %w", transportError(err))
	}
	if len(data) > maxResponseBytes {
		return reply{}, fmt.Errorf("the response is over %d MiB", maxResponseBytes>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &apiError{}
		if json.Unmarshal(data, e) != nil {
			e = &apiError{}
		}
		e.Status = resp.StatusCode
		return reply{}, e
	}
	return reply{status: resp.StatusCode, body: data, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}, nil
}

// transportError returns err without the *url.Error wrapper, whose
// message repeats the method and URL, and with context words instead of
// the bare "context deadline exceeded".
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("no response from %s within %v", redactedHost(ue.URL), cliTimeout)
		}
		return fmt.Errorf("connection to %s failed: %w", redactedHost(ue.URL), ue.Err)
	}
	return err
}

// redactedHost returns the scheme and host of a URL.
func redactedHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the server"
	}
	return u.Scheme + "://" + u.Host
}

// listOptions are the pagination flags of a list command.
type listOptions struct {
	limit  int
	cursor string
	all    bool
}

// flags adds --limit, --cursor and --all to fs.
func (o *listOptions) flags(fs *flag.FlagSet) {
	fs.IntVar(&o.limit, "limit", 0, "at most `N` items per page, 1 to 100 (default: the server's, 20)")
	fs.StringVar(&o.cursor, "cursor", "", "start at this `cursor`, the next_cursor of an earlier page")
	fs.BoolVar(&o.all, "all", false, "follow next_cursor to the last page")
}

// check validates the options.
func (o *listOptions) check(c *cliCommand) error {
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == "limit" })
	if set && (o.limit < 1 || o.limit > 100) {
		return c.usageError("--limit must be between 1 and 100")
	}
	return nil
}

// list fetches a list: one page, or with --all every page from the first
// (or --cursor). It returns the items and the cursor of the next page, if
// there is one that was not fetched.
func (c *adminClient) list(ctx context.Context, path string, query url.Values, o listOptions) ([]json.RawMessage, string, error) {
	if query == nil {
		query = url.Values{}
	}
	if o.limit > 0 {
		query.Set("limit", strconv.Itoa(o.limit))
	}
	cursor := o.cursor
	items := []json.RawMessage{}
	seen := map[string]bool{}
	for {
		if cursor != "" {
			query.Set("cursor", cursor)
		}
		r, err := c.get(ctx, path, query)
		if err != nil {
			return nil, "", err
		}
		var p admin.List[json.RawMessage]
		if err := json.Unmarshal(r.body, &p); err != nil {
			return nil, "", fmt.Errorf("the server's list is not valid JSON: %w", err)
		}
		items = append(items, p.Data...)
		if p.NextCursor == "" || !o.all {
			return items, p.NextCursor, nil
		}
		if seen[p.NextCursor] {
			return nil, "", errors.New("the server returned the same next_cursor twice; stopping")
		}
		seen[p.NextCursor] = true
		cursor = p.NextCursor
	}
}

// printList prints a list's items, as the JSON array with --json or with
// table otherwise, and, when there is a next page, how to get it (on
// stderr, so that stdout stays a JSON array or a table).
func (c *cliCommand) printList(items []json.RawMessage, next, noun string, table func(io.Writer, []json.RawMessage) error) error {
	if c.jsonOut {
		out, err := json.MarshalIndent(items, "", "  ")
		if err != nil {
			return fmt.Errorf("the server's list is not valid JSON: %w", err)
		}
		if _, err := c.stdout.Write(append(out, '\n')); err != nil {
			return err
		}
	} else if len(items) == 0 {
		fmt.Fprintf(c.stdout, "No %s.\n", noun)
	} else if err := table(c.stdout, items); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(c.stderr, "keygate %s: more %s: add --cursor %s, or --all for every page\n", c.name, noun, oneLine(next))
	}
	return nil
}

// printJSON prints a response body, indented.
func (c *cliCommand) printJSON(body []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return fmt.Errorf("the server's response is not valid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := c.stdout.Write(buf.Bytes())
	return err
}

// printOne prints a response that is one resource: its JSON with --json,
// else show's rendering of it.
func printOne[T any](c *cliCommand, r reply, show func(io.Writer, *T) error) error {
	if c.jsonOut {
		return c.printJSON(r.body)
	}
	v, err := decodeBody[T](r.body)
	if err != nil {
		return err
	}
	return show(c.stdout, &v)
}

// showCommand returns the command "keygate <name> ID" (such as "keys
// show"): a GET of path/{id}, its response printed by print.
func showCommand(name, about, path string, print func(*cliCommand, reply) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		c := newCommand(name, name+" ID [--json]", about, stdout, stderr)
		pos, err := c.parse(args, "ID")
		if err != nil {
			return err
		}
		api, err := c.client()
		if err != nil {
			return err
		}
		r, err := api.get(ctx, path+"/"+pathID(pos[0]), nil)
		if err != nil {
			return err
		}
		return print(c, r)
	}
}

// actionCommand returns the command "keygate <name> ID" (such as "keys
// revoke"): a POST without parameters to path/{id}/action, its response
// printed by print.
func actionCommand(name, about, path, action string, print func(*cliCommand, reply) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		c := newCommand(name, name+" ID [--idempotency-key K] [--json]", about, stdout, stderr)
		c.idempotencyFlag()
		pos, err := c.parse(args, "ID")
		if err != nil {
			return err
		}
		api, err := c.client()
		if err != nil {
			return err
		}
		r, err := api.post(ctx, path+"/"+pathID(pos[0])+"/"+action, nil)
		if err != nil {
			return err
		}
		return print(c, r)
	}
}

// decodeItems decodes a list's items into T.
func decodeItems[T any](items []json.RawMessage) ([]T, error) {
	out := make([]T, len(items))
	for i, raw := range items {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("the server's response is not what was expected: %w", err)
		}
	}
	return out, nil
}

// decodeBody decodes a response body into T.
func decodeBody[T any](body []byte) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("the server's response is not what was expected: %w", err)
	}
	return v, nil
}

// newTable returns a writer that aligns tab-separated columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes one table row: the cells, made safe by cell, tab-separated.
func row(w io.Writer, cells ...string) {
	for i, s := range cells {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		io.WriteString(w, cell(s))
	}
	io.WriteString(w, "\n")
}

// cell returns a table cell for s: "-" when empty, and without tabs,
// newlines or other control characters (names come from users).
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return oneLine(s)
}

// details prints name/value pairs, aligned, skipping empty values.
func details(w io.Writer, pairs ...string) error {
	tw := newTable(w)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			continue
		}
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], oneLine(pairs[i+1]))
	}
	return tw.Flush()
}

// timeText formats a time from the API to the second, in UTC; the zero
// time (absent) is empty.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// joinList joins a list for a table cell.
func joinList(l []string) string { return strings.Join(l, ",") }

// pathID escapes an ID for a URL path.
func pathID(id string) string { return url.PathEscape(id) }

// listFlag is a comma-separated list flag; repeating it adds to the list.
type listFlag []string

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set adds the comma-separated values of s, trimmed; empty ones are
// refused.
func (l *listFlag) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return errors.New("empty list element")
		}
		*l = append(*l, v)
	}
	return nil
}

// timeFlag is an RFC 3339 time flag.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.UTC().Format(time.RFC3339Nano)
}

// Set parses an RFC 3339 time.
func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("want an RFC 3339 time, such as 2030-01-02T15:04:05Z")
	}
	f.t = t
	return nil
}

// checkMode checks a --mode value: "test" or "live", or empty when not
// required.
func (c *cliCommand) checkMode(mode string, required bool) error {
	switch {
	case mode == "" && required:
		return c.usageError("--mode is required (test or live)")
	case mode == "", mode == "test", mode == "live":
		return nil
	default:
		return c.usageError("--mode must be test or live")
	}
}

// graceSeconds converts --grace to whole seconds.
func (c *cliCommand) graceSeconds(grace time.Duration) (int64, error) {
	if grace < 0 {
		return 0, c.usageError("--grace must not be negative")
	}
	if grace%time.Second != 0 {
		return 0, c.usageError("--grace must be whole seconds, such as 90s or 1h")
	}
	return int64(grace / time.Second), nil
}

// replayNote tells, on stderr, that the server replayed an earlier
// response, so that the plaintext secret is not in it.
func (c *cliCommand) replayNote(r reply, what string) {
	if r.replayed {
		fmt.Fprintf(c.stderr, "keygate %s: the server replayed its response to an earlier request with this Idempotency-Key: nothing new was done, and the %s was shown only the first time\n", c.name, what)
	}
}
