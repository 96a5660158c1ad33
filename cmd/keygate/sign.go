package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/httpsig"
)

// Environment variables keygate sign falls back on when --key-id or
// --secret is not given.
const (
	envKeyID  = "KEYGATE_HMAC_KEY_ID"
	envSecret = "KEYGATE_HMAC_SECRET"
)

// signTimeout bounds a whole request made by keygate sign, from dialing to
// the end of the response body.
const signTimeout = 30 * time.Second

// signSynopsis is keygate sign's command line.
const signSynopsis = "usage: keygate sign [-X METHOD] [-H 'Name: value']... [-d BODY | -d @FILE | -d @-] [--key-id ID] [--secret SECRET] [--print] URL\n"

// stdin is what "keygate sign -d @-" reads. Tests replace it.
var stdin io.Reader = os.Stdin

// sign signs one request with an HMAC credential and sends it, printing the
// response body to stdout, or with --print only prints the headers that
// carry the signature. A non-2xx response is an error (exit status 1); a
// command line that cannot be used is errUsage (exit status 2). No message
// ever contains the secret.
func sign(ctx context.Context, args []string, in io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	// The flag package quotes a bad value in its error, and a misplaced
	// secret would be quoted: its messages go nowhere, and a fixed one is
	// printed instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stderr, signSynopsis+`
Signs a request with an HMAC credential (keygate's v3 profile of RFC 9421:
Content-Digest, Signature-Input and Signature), sends it and prints the
response body. The exit status is 0 for a 2xx response, 1 otherwise.
Redirects are not followed.

With --print nothing is sent: the headers to add are printed, one
"Name: value" per line. Send the request once, soon (within the server's
clock skew, five minutes by default), with exactly the same method, URL,
body and -H headers. curl adds "Content-Type: application/x-www-form-urlencoded"
to a body unless told otherwise, so pass the same Content-Type with -H to
both commands; and curl -d @FILE drops newlines, curl --data-binary does not.

The key ID and secret default to $`+envKeyID+` and $`+envSecret+`,
as "keygate serve" prints them ("test hmac key id", "test hmac secret").

flags:
`)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	var (
		method    string
		headers   headerList
		body      bodyFlag
		keyID     string
		secret    string
		printOnly bool
	)
	fs.StringVar(&method, "X", "", "HTTP `method` (default GET, or POST with -d)")
	fs.Var(&headers, "H", "a request header, `Name: value` (repeatable); Content-Type and X-Store-Id are signed when sent")
	fs.Var(&body, "d", "request `body`: the text itself, @FILE for a file's bytes, @- for standard input (sent as is, newlines included)")
	fs.StringVar(&keyID, "key-id", "", "the credential's key `ID` (default $"+envKeyID+")")
	fs.StringVar(&secret, "secret", "", "the credential's `secret`, standard base64 of 64 bytes (default $"+envSecret+"; prefer it, other local users can see command lines)")
	fs.BoolVar(&printOnly, "print", false, "print the signature headers instead of sending the request")

	// Flags may follow the URL, as with curl; after "--" everything is an
	// argument.
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil // the flag package has shown fs.Usage
			}
			fmt.Fprintln(stderr, "keygate sign:", withoutQuotedValues(err.Error()))
			fs.Usage()
			return errUsage
		}
		remaining := fs.Args()
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
	usageError := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "keygate sign: "+format+"\n", a...)
		fmt.Fprint(stderr, signSynopsis)
		return errUsage
	}

	// Arguments are never echoed: a misplaced flag can turn the secret into
	// one ("--key-id --secret SECRET URL").
	if len(positional) != 1 {
		return usageError("want exactly one URL argument, got %d", len(positional))
	}
	target, err := url.Parse(positional[0])
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" || target.Opaque != "" {
		return usageError("the URL must be absolute, http:// or https:// with a host")
	}
	if target.User != nil {
		return usageError("the URL must not carry a user name or password")
	}
	if method == "" {
		method = http.MethodGet
		if body.set {
			method = http.MethodPost
		}
	}
	if !isToken(method) {
		return usageError("-X: the method must be a token, such as GET or POST")
	}

	source := "--key-id"
	if keyID == "" {
		keyID, source = os.Getenv(envKeyID), envKeyID
	}
	if keyID == "" {
		return usageError("no key ID: pass --key-id or set %s", envKeyID)
	}
	if !printableASCII(keyID) {
		return usageError("the key ID (%s) must be printable ASCII without spaces", source)
	}
	source = "--secret"
	if secret == "" {
		secret, source = os.Getenv(envSecret), envSecret
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return usageError("no secret: pass --secret or set %s", envSecret)
	}
	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return usageError("the secret (%s) is not standard base64", source)
	}
	if len(key) != httpsig.SecretLen {
		return usageError("the secret (%s) decodes to %d bytes, want %d", source, len(key), httpsig.SecretLen)
	}

	payload, err := body.read(in)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	var reader io.Reader
	if len(payload) > 0 {
		reader = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, positional[0], reader)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	for _, h := range headers {
		if h.name == "Host" {
			req.Host = h.value
			continue
		}
		req.Header.Add(h.name, h.value)
	}
	signer := &httpsig.Signer{KeyID: keyID, Secret: key}
	if err := signer.Sign(req, payload); err != nil {
		return fmt.Errorf("sign: %w", err)
	}

	if printOnly {
		for _, name := range []string{"Content-Digest", "Signature-Input", "Signature"} {
			if v := req.Header.Get(name); v != "" {
				fmt.Fprintf(stdout, "%s: %s\n", name, v)
			}
		}
		return nil
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		Timeout:   signTimeout,
		// Like curl without -L: a redirected request would not be signed
		// for its new target.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return fmt.Errorf("sign: response body: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("sign: HTTP %s", resp.Status)
	}
	return nil
}

// header is one -H flag.
type header struct{ name, value string }

// headerList is the repeatable -H flag: "Name: value", in order.
type headerList []header

func (l *headerList) String() string {
	if l == nil {
		return ""
	}
	parts := make([]string, len(*l))
	for i, h := range *l {
		parts[i] = h.name + ": " + h.value
	}
	return strings.Join(parts, ", ")
}

// Set adds one header. The name must be a token; the value, trimmed of
// surrounding blanks, must not contain CR, LF or other control characters
// (no header injection). The signature headers and the framing headers
// are keygate sign's to set.
func (l *headerList) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return errors.New(`want "Name: value"`)
	}
	if !isToken(name) {
		return errors.New("the header name must be a token, such as X-Store-Id")
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '\r' || c == '\n' {
			return errors.New("the header value must not contain CR or LF")
		} else if (c < 0x20 && c != '\t') || c == 0x7f {
			return errors.New("the header value must not contain control characters")
		}
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	switch name {
	case "Content-Digest", "Signature-Input", "Signature", "Content-Length", "Transfer-Encoding":
		return fmt.Errorf("%s is set by keygate sign", name)
	}
	*l = append(*l, header{name, value})
	return nil
}

// bodyFlag is -d: the body itself, @FILE or @- (standard input).
type bodyFlag struct {
	set   bool
	value string
}

func (b *bodyFlag) String() string {
	if b == nil {
		return ""
	}
	return b.value
}

func (b *bodyFlag) Set(s string) error {
	if b.set {
		return errors.New("-d may be given only once")
	}
	b.set, b.value = true, s
	return nil
}

// read returns the body's bytes, reading the file or in when the flag says
// so.
func (b *bodyFlag) read(in io.Reader) ([]byte, error) {
	switch {
	case !b.set:
		return nil, nil
	case b.value == "@-":
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, fmt.Errorf("read the body from standard input: %w", err)
		}
		return data, nil
	case strings.HasPrefix(b.value, "@"):
		data, err := os.ReadFile(b.value[1:])
		if err != nil {
			return nil, fmt.Errorf("read the body: %w", err)
		}
		return data, nil
	default:
		return []byte(b.value), nil
	}
}

// isToken reports whether s is an RFC 9110 token (a method or a header
// name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// printableASCII reports whether s is visible ASCII, without spaces.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// withoutQuotedValues drops the quoted values from a flag package error
// ("invalid value \"...\" for flag -H: ..."), which could be a misplaced
// secret, keeping the rest of the message.
func withoutQuotedValues(msg string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, `value "`)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+len("value")])
		quoted, err := strconv.QuotedPrefix(msg[i+len("value "):])
		if err != nil {
			return b.String() // cannot find its end: drop the rest
		}
		msg = msg[i+len("value ")+len(quoted):]
	}
}
