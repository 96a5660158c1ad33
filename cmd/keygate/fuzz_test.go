package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/httpsig"
)

// FuzzParseMasterKey checks that a master key file's content either gives
// a key of the right length, the hex of which it was, or the fixed format
// error, which never quotes the content.
func FuzzParseMasterKey(f *testing.F) {
	f.Add(strings.Repeat("ab", httpsig.MasterKeyLen))
	f.Add(" \n" + strings.Repeat("0F", httpsig.MasterKeyLen) + "\r\n")
	f.Add(strings.Repeat("ab", httpsig.MasterKeyLen-1) + "zz")
	f.Add(strings.Repeat("a", 2*httpsig.MasterKeyLen+1))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := parseMasterKey(s)
		if err != nil {
			if !errors.Is(err, errMasterKeyFormat) {
				t.Fatalf("parseMasterKey error %v, want errMasterKeyFormat", err)
			}
			if key != nil {
				t.Fatalf("parseMasterKey returned a key with an error")
			}
			return
		}
		if len(key) != httpsig.MasterKeyLen {
			t.Fatalf("parseMasterKey returned %d bytes, want %d", len(key), httpsig.MasterKeyLen)
		}
		if got := hex.EncodeToString(key); got != strings.ToLower(strings.TrimSpace(s)) {
			t.Fatalf("parseMasterKey(%q) = %s: not the key written", s, got)
		}
	})
}

// fuzzSecret is a value that parse must never echo, wherever it lands on
// the command line (it does not start with "-", so it is never a flag
// name).
const fuzzSecret = "SECRETxyzzy0123456789"

// FuzzCLIParse checks the CLI's flag reordering: for any arguments (split
// on NUL) with fuzzSecret inserted at any position, parse never panics,
// never prints fuzzSecret, and on success returns exactly one non-empty
// positional argument.
func FuzzCLIParse(f *testing.F) {
	f.Add("show\x00--json", uint8(0))
	f.Add("ID\x00--admin-key", uint8(2))
	f.Add("--server\x00--admin-key", uint8(1))
	f.Add("--grace\x00ID", uint8(1))
	f.Add("--\x00-x", uint8(0))
	f.Add("--idempotency-key\x00ID\x00--json=maybe", uint8(3))
	f.Add("-h", uint8(0))
	f.Fuzz(func(t *testing.T, joined string, at uint8) {
		var args []string
		if joined != "" {
			args = strings.Split(joined, "\x00")
		}
		i := int(at) % (len(args) + 1)
		args = append(args[:i:i], append([]string{fuzzSecret}, args[i:]...)...)

		var stdout, stderr bytes.Buffer
		c := newCommand("keys rotate", "keys rotate ID [--grace DURATION]", "Rotates.", &stdout, &stderr)
		var grace time.Duration
		c.fs.DurationVar(&grace, "grace", 0, "the grace `duration`")
		c.idempotencyFlag()
		pos, err := c.parse(args, "ID")
		if strings.Contains(stdout.String(), fuzzSecret) || strings.Contains(stderr.String(), fuzzSecret) {
			t.Fatalf("parse(%q) printed an argument:\nstdout: %s\nstderr: %s", args, stdout.String(), stderr.String())
		}
		if err != nil {
			if !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("parse(%q) error %v, want errUsage or flag.ErrHelp", args, err)
			}
			return
		}
		if len(pos) != 1 || pos[0] == "" {
			t.Fatalf("parse(%q) = %q, want one non-empty argument", args, pos)
		}
		if c.idempotencyKey != "" && !validIdempotencyKey(c.idempotencyKey) {
			t.Fatalf("parse(%q) accepted the Idempotency-Key %q", args, c.idempotencyKey)
		}
	})
}

// FuzzAdminBase checks --server URL handling: an accepted URL is an
// absolute http(s) URL without credentials, query or fragment, ending in
// the admin prefix; a refused one gets one of the fixed errors, which never quote it.
func FuzzAdminBase(f *testing.F) {
	f.Add(defaultServer)
	f.Add("https://keygate.example.com/base/")
	f.Add("http://user:pass@127.0.0.1:8080")
	f.Add("http://127.0.0.1:8080/admin/v1?x=1#f")
	f.Add("mailto:someone@example.com")
	f.Add(" http://[::1]:8080/%2Fadmin/v1 ")
	f.Fuzz(func(t *testing.T, server string) {
		u, err := adminBase(server)
		if err != nil {
			switch err.Error() {
			case "want an absolute http:// or https:// URL with a host, such as " + defaultServer,
				"the URL must not carry a user name or password",
				"the URL must not have a query or a fragment":
			default:
				t.Fatalf("adminBase(%q) error %q is not one of its fixed messages", server, err)
			}
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || !strings.HasSuffix(u.Path, adminPrefix) {
			t.Fatalf("adminBase(%q) = %s", server, u)
		}
	})
}

// FuzzPostgresName checks that the description of a --db PostgreSQL URL
// never holds the URL's password.
func FuzzPostgresName(f *testing.F) {
	f.Add("keygate", "s3cret-pass", "db.example.com:5432", "keygate")
	f.Add("", "p@ss/word?x", "127.0.0.1", "")
	f.Add("u", "hunter22", "", "db")
	f.Fuzz(func(t *testing.T, user, password, host, db string) {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: host, Path: "/" + db}
		dsn := u.String()
		name := postgresName(dsn)
		// The description depends on no credential: it is the fixed one,
		// or the one of the same URL without its user and password. (A
		// substring test would be wrong: a password may also be, say,
		// the end of " on " and the host.)
		bare := u
		bare.User = nil
		if want := postgresName(bare.String()); name != "the PostgreSQL database" && name != want {
			t.Fatalf("postgresName(%q) = %q, want %q: it depends on the credentials", dsn, name, want)
		}
		// Any string at all: no panic, and the fixed description when it
		// is not a URL with a host.
		if raw := postgresName(db); raw == "" {
			t.Fatalf("postgresName(%q) is empty", db)
		}
	})
}
