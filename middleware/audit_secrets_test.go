package middleware_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// This file greps the complete output of every built-in audit sink — the
// memory sink (its events marshalled to JSON), the JSON Lines file, and
// log/slog through both the JSON and the text handler — for every secret a
// broad mix of requests carried: API keys and their secret parts, access
// tokens and each of their segments, HMAC secrets (base64 and hex) and
// signatures, one-time tokens and passwords, valid or not, where they
// belong and where they must not be (query parameters, secret headers, a
// custom redacted header, cookies), and with CR, LF and other control
// characters in the recorded fields. None may appear; every sink must still
// hold one well-formed line per request, with the callers' public IDs.

// leakCustomHeader is a service's own secret header, added to the
// Redactor's redact list (its name holds none of the words that redact a
// header by themselves).
const leakCustomHeader = "X-Partner-Auth"

// leakRecordHeaders makes the Redactor record every secret-bearing header,
// so that their redaction, not their absence, is what the test sees.
var leakRecordHeaders = append([]string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"Signature", "Signature-Input", "X-Api-Key", leakCustomHeader,
	"X-Auth-Token", "X-Client-Secret", "X-Password", "Content-Digest",
}, audit.DefaultRecordHeaders...)

// leakSecrets maps every secret of the suite to a description that names
// it without showing it.
type leakSecrets map[string]string

func (s leakSecrets) add(desc, v string) {
	if v != "" {
		s[v] = desc
	}
}

// apiKey adds a key and its secret part.
func (s leakSecrets) apiKey(desc, key string) {
	s.add(desc+" (full key)", key)
	if len(key) >= apikey.SecretLen+apikey.ChecksumLen {
		end := len(key) - apikey.ChecksumLen
		s.add(desc+" (secret part)", key[end-apikey.SecretLen:end])
	}
}

// token adds an access token and each of its three segments.
func (s leakSecrets) token(desc, tok string) {
	s.add(desc+" (full token)", tok)
	parts := strings.Split(tok, ".")
	for i, name := range []string{"header", "payload", "signature"} {
		if i < len(parts) {
			s.add(desc+" ("+name+" segment)", parts[i])
		}
	}
	if len(parts) == 3 {
		s.add(desc+" (payload.signature)", parts[1]+"."+parts[2])
	}
}

// oneTime adds a one-time token and its random part.
func (s leakSecrets) oneTime(desc, tok string) {
	s.add(desc+" (full token)", tok)
	s.add(desc+" (random part)", strings.TrimPrefix(tok, jwt.OneTimeTokenPrefix))
}

// hmacSecret adds a shared secret in every encoding a client may hold it.
func (s leakSecrets) hmacSecret(desc string, secret []byte) {
	s.add(desc+" (base64)", base64.StdEncoding.EncodeToString(secret))
	s.add(desc+" (base64url)", base64.RawURLEncoding.EncodeToString(secret))
	s.add(desc+" (hex)", hex.EncodeToString(secret))
}

// forms returns the spellings under which v could appear in an output:
// as is, percent-encoded for a query or a path, and escaped for JSON or a
// quoted string.
func leakForms(v string) []string {
	quoted := strconv.Quote(v)
	jsonb, _ := json.Marshal(v)
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v), quoted[1 : len(quoted)-1], string(jsonb[1 : len(jsonb)-1])}
	slices.Sort(forms)
	return slices.Compact(forms)
}

// leakOutput is one sink's complete output, one record a line.
type leakOutput struct {
	name  string
	data  []byte
	json  bool // each line is a JSON object
	lines int  // records expected
}

// leakFinding is a secret found in an output.
type leakFinding struct {
	sink, secret, where string
}

func (f leakFinding) String() string {
	return fmt.Sprintf("%s: %s, in %s", f.sink, f.secret, f.where)
}

// leakFind returns every secret (in any of its forms) that out contains,
// with the field it is in; it never returns a secret's value.
func leakFind(out leakOutput, secrets leakSecrets) []leakFinding {
	var found []leakFinding
	lines := bytes.Split(out.data, []byte("\n"))
	for v, desc := range secrets {
		for _, form := range leakForms(v) {
			if !bytes.Contains(out.data, []byte(form)) {
				continue
			}
			for i, line := range lines {
				if at := bytes.Index(line, []byte(form)); at >= 0 {
					found = append(found, leakFinding{out.name, desc, fmt.Sprintf("line %d, field %s", i+1, leakFieldAt(line, at, out.json, form))})
				}
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].String() < found[j].String() })
	return found
}

// leakFieldAt names the field of line that holds the byte at offset at: a
// JSON path for JSON lines, the key=value key for slog's text format.
func leakFieldAt(line []byte, at int, isJSON bool, form string) string {
	if isJSON {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			if paths := leakJSONPaths(m, "", form); len(paths) > 0 {
				return strings.Join(paths, ", ")
			}
		}
		return fmt.Sprintf("byte %d (a key, or the line does not parse)", at)
	}
	// slog text: key=value pairs separated by spaces, values quoted when
	// needed. The field is the pair that starts after the last space
	// outside quotes before at.
	inQuote, start := false, 0
	for i := 0; i < at && i < len(line); i++ {
		switch c := line[i]; {
		case c == '"' && (i == 0 || line[i-1] != '\\'):
			inQuote = !inQuote
		case c == ' ' && !inQuote:
			start = i + 1
		}
	}
	if key, _, ok := strings.Cut(string(line[start:at]), "="); ok {
		return key
	}
	return fmt.Sprintf("byte %d", at)
}

// leakJSONPaths returns the paths of the string values (and keys) of v
// that contain form.
func leakJSONPaths(v any, path, form string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if strings.Contains(k, form) {
				out = append(out, p+" (key)")
			}
			out = append(out, leakJSONPaths(child, p, form)...)
		}
	case []any:
		for i, child := range v {
			out = append(out, leakJSONPaths(child, fmt.Sprintf("%s[%d]", path, i), form)...)
		}
	case string:
		if strings.Contains(v, form) {
			out = append(out, path)
		}
	}
	slices.Sort(out)
	return out
}

// leakControl reports the first control character (C0, DEL, C1, the
// Unicode line and paragraph separators, bidi controls) in the string
// values of a decoded JSON value, with its path.
func leakControl(v any, path string) (string, bool) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if where, ok := leakControl(k, path+"{key}"); ok {
				return where, true
			}
			if where, ok := leakControl(v[k], path+"."+k); ok {
				return where, true
			}
		}
	case []any:
		for i, child := range v {
			if where, ok := leakControl(child, fmt.Sprintf("%s[%d]", path, i)); ok {
				return where, true
			}
		}
	case string:
		for i, r := range v {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 ||
				(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				return fmt.Sprintf("%s: %U at byte %d", path, r, i), true
			}
		}
	}
	return "", false
}

// leakCheckFormat checks that out holds exactly out.lines records, one a
// line, that JSON lines parse, that no line holds a raw control byte, and
// that no decoded JSON value holds a control character.
func leakCheckFormat(t *testing.T, out leakOutput) {
	t.Helper()
	require.NotEmpty(t, out.data, "%s: empty output", out.name)
	require.True(t, bytes.HasSuffix(out.data, []byte("\n")), "%s: the last record is not terminated", out.name)
	lines := bytes.Split(bytes.TrimSuffix(out.data, []byte("\n")), []byte("\n"))
	require.Len(t, lines, out.lines, "%s: one line per event", out.name)
	require.True(t, utf8.Valid(out.data), "%s: invalid UTF-8", out.name)
	for i, line := range lines {
		for j, c := range line {
			if c < 0x20 || c == 0x7f {
				t.Errorf("%s: line %d has a raw control byte %#x at %d", out.name, i+1, c, j)
				break
			}
		}
		if !out.json {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Errorf("%s: line %d does not parse: %v", out.name, i+1, err)
			continue
		}
		if where, ok := leakControl(m, ""); ok {
			t.Errorf("%s: line %d: a decoded value holds a control character: %s", out.name, i+1, where)
		}
	}
}

// leakFixture is an Authenticator with every auth method, auditing to
// every built-in sink at once.
type leakFixture struct {
	secrets leakSecrets
	handler http.Handler
	writer  *audit.Writer
	mem     *audit.MemorySink
	file    *audit.FileSink
	path    string
	jsonLog bytes.Buffer
	textLog bytes.Buffer

	sk, pk, revoked, foreign, forged string // API keys
	skID, pkID                       string
	jwtOK, jwtPublic, jwtForeign     string // access tokens
	jwtTampered                      string
	jti                              string
	signer, foreignSigner            *httpsig.Signer
	hmacKeyID                        string
	oneTime                          func(entity string) string
	password                         string
}

// newLeakFixture builds the fixture; wrapFile, if not nil, wraps the file
// sink.
func newLeakFixture(t *testing.T, redactor *audit.Redactor, wrapFile func(audit.Sink) audit.Sink) *leakFixture {
	t.Helper()
	ctx := context.Background()
	f := &leakFixture{secrets: leakSecrets{}}

	// API keys: a secret and a publishable key, a revoked one, one of
	// another manager (valid shape, unknown ID) and a forgery (our ID, a
	// made-up secret, a correct checksum).
	keys, err := apikey.NewManager(apikey.Config{Store: apikey.NewMemoryStore()})
	require.NoError(t, err)
	mk := func(m *apikey.Manager, kind keygate.Kind) (string, string) {
		k, _, err := m.Create(ctx, apikey.CreateParams{Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        keygate.ModeTest,
			Package:     "GO",
			Stores:      []string{"store_1"},
			Permissions: []string{"products:read"},
		}, Kind: kind})
		require.NoError(t, err)
		return k.Reveal(), k.ID()
	}
	f.sk, f.skID = mk(keys, keygate.KindSecret)
	f.pk, f.pkID = mk(keys, keygate.KindPublishable)
	var revokedID string
	f.revoked, revokedID = mk(keys, keygate.KindSecret)
	_, err = keys.Revoke(ctx, revokedID)
	require.NoError(t, err)
	other, err := apikey.NewManager(apikey.Config{Store: apikey.NewMemoryStore()})
	require.NoError(t, err)
	f.foreign, _ = mk(other, keygate.KindSecret)
	{
		body := []byte(f.sk[:len(f.sk)-apikey.ChecksumLen])
		for i := len(body) - apikey.SecretLen; i < len(body); i++ {
			body[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[int(body[i])%62]
		}
		f.forged = reseal(string(body) + strings.Repeat("0", apikey.ChecksumLen))
		require.NotEqual(t, f.sk, f.forged)
	}
	f.secrets.apiKey("secret API key", f.sk)
	f.secrets.apiKey("publishable API key", f.pk)
	f.secrets.apiKey("revoked API key", f.revoked)
	f.secrets.apiKey("foreign API key", f.foreign)
	f.secrets.apiKey("forged API key", f.forged)

	// Access tokens: a confidential client's, a public client's, one
	// signed by another key with the same kid, and a tampered one.
	issue := func(kind keygate.Kind, keySet *jwt.KeySet) (string, jwt.Claims) {
		iss, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: keySet, Issuer: "https://keygate.test", Audience: "api"})
		require.NoError(t, err)
		tok, c, err := iss.Issue(t.Context(), jwt.Claims{Subject: "acct_1", ClientID: f.skID, Scope: "products:read", Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        keygate.ModeTest,
			Package:     "GO",
			Permissions: []string{"products:read"},
			Stores:      []string{"store_1"},
		},
			ClientKind: kind})
		require.NoError(t, err)
		return tok, c
	}
	newKeySet := func() *jwt.KeySet {
		k, err := jwt.GenerateKey("k1", jwt.ES256)
		require.NoError(t, err)
		ks, err := jwt.NewKeySet(k)
		require.NoError(t, err)
		return ks
	}
	keySet := newKeySet()
	verifier, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: keySet, Issuer: "https://keygate.test", Audience: "api"})
	require.NoError(t, err)
	var claims jwt.Claims
	f.jwtOK, claims = issue(keygate.KindSecret, keySet)
	f.jti = claims.ID
	require.NotEmpty(t, f.jti)
	f.jwtPublic, _ = issue(keygate.KindPublishable, keySet)
	f.jwtForeign, _ = issue(keygate.KindSecret, newKeySet())
	{
		tamperedTok, _ := issue(keygate.KindSecret, keySet)
		b := []byte(tamperedTok)
		i := strings.LastIndexByte(tamperedTok, '.') + 10
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		f.jwtTampered = string(b)
	}
	f.secrets.token("access token", f.jwtOK)
	f.secrets.token("public client's access token", f.jwtPublic)
	f.secrets.token("foreign access token", f.jwtForeign)
	f.secrets.token("tampered access token", f.jwtTampered)

	// HMAC credentials: ours, and one of another manager.
	newHMAC := func() (*httpsig.Manager, *httpsig.Signer) {
		master := make([]byte, httpsig.MasterKeyLen)
		rand.Read(master)
		m, err := httpsig.NewManager(httpsig.Config{MasterKey: master})
		require.NoError(t, err)
		secret, _, err := m.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        keygate.ModeTest,
			Package:     "GO",
			Stores:      []string{"store_1"},
			Permissions: []string{"products:read"},
		}, Name: "audit test"})
		require.NoError(t, err)
		return m, &httpsig.Signer{KeyID: secret.KeyID(), Secret: secret.Reveal()}
	}
	var hmacs *httpsig.Manager
	hmacs, f.signer = newHMAC()
	_, f.foreignSigner = newHMAC()
	f.hmacKeyID = f.signer.KeyID
	f.secrets.hmacSecret("HMAC secret", f.signer.Secret)
	f.secrets.hmacSecret("foreign HMAC secret", f.foreignSigner.Secret)
	signatures, err := httpsig.NewVerifier(httpsig.VerifierConfig{Credentials: hmacs, Authorities: []string{"example.com"}})
	require.NoError(t, err)

	// One-time tokens, bound to the confirm route of an order.
	ot, err := jwt.NewOneTimeTokens(jwt.OneTimeConfig{})
	require.NoError(t, err)
	n := 0
	f.oneTime = func(entity string) string {
		tok, _, err := ot.Issue(ctx, jwt.OneTimeParams{Purpose: "checkout:confirm", Account: "acct_1", KeyID: f.skID, Mode: keygate.ModeTest,
			Method: http.MethodPost, Path: "/v1/checkout/" + entity + "/confirm", EntityID: entity})
		require.NoError(t, err)
		n++
		f.secrets.oneTime(fmt.Sprintf("one-time token %d", n), tok)
		return tok
	}
	f.password = "pw-" + rand.Text()
	f.secrets.add("password", f.password)
	f.secrets.add("Basic credentials", base64.StdEncoding.EncodeToString([]byte("acct_1:"+f.password)))

	// Every built-in sink at once.
	f.mem = audit.NewMemorySink(10000)
	f.path = filepath.Join(t.TempDir(), "audit.jsonl")
	f.file, err = audit.OpenFile(audit.FileConfig{Path: f.path})
	require.NoError(t, err)
	var fileSink audit.Sink = f.file
	if wrapFile != nil {
		fileSink = wrapFile(f.file)
	}
	f.writer = audit.NewWriter(audit.WriterConfig{
		Sinks: []audit.Sink{
			f.mem, fileSink,
			audit.NewSlogSink(slog.NewJSONHandler(&f.jsonLog, nil)),
			audit.NewSlogSink(slog.NewTextHandler(&f.textLog, nil)),
		},
		FlushInterval: time.Millisecond,
		OnError:       func(i int, err error) { t.Errorf("sink %d: %v", i, err) },
	})
	t.Cleanup(func() { f.writer.Close(context.Background()); f.file.Close() })

	auth, err := middleware.New(middleware.Config{
		APIKeys: keys, Tokens: verifier, Signatures: signatures, OneTime: ot,
		Audit: middleware.AuditConfig{Writer: f.writer, Redactor: redactor, TrustRequestID: true},
	})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	mux := http.NewServeMux()
	auth.Mount(mux, []middleware.Route{
		{Pattern: "GET /v1/orders", Handler: ok},
		{Pattern: "GET /v1/products", Rule: middleware.Rule{Publishable: true}, Handler: ok},
		{Pattern: "POST /v1/echo", Rule: middleware.Rule{Publishable: true}, Handler: ok},
		{Pattern: "GET /v1/echo/{id}", Rule: middleware.Rule{Publishable: true}, Handler: ok},
		{Pattern: "POST /v1/checkout/{order}/confirm", Rule: middleware.Rule{OneTime: "checkout:confirm", EntityPathValue: "order"}, Handler: ok},
		{Pattern: "GET /healthz", Public: true, Handler: ok},
	})
	f.handler = auth.Audit(mux)
	return f
}

// leakReq is one request of the suite.
type leakReq struct {
	name           string
	method, target string
	body           string
	header         http.Header
	sign           *httpsig.Signer     // signs the request after header is set
	edit           func(*http.Request) // applied last (after signing)
	want           int                 // expected status; 0: any
}

// bearer returns an Authorization header for credential, and any extra
// headers as name, value pairs.
func bearer(credential string, kv ...string) http.Header {
	h := http.Header{}
	if credential != "" {
		h.Set("Authorization", "Bearer "+credential)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// suite is the mix of requests: every credential, valid and not, where it
// belongs and where it must not be.
func (f *leakFixture) suite(t *testing.T) []leakReq {
	b64 := base64.StdEncoding.EncodeToString(f.signer.Secret)
	hexSecret := hex.EncodeToString(f.signer.Secret)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("acct_1:"+f.password))
	q := url.QueryEscape
	otUsed := f.oneTime("order_7")
	otElsewhere := f.oneTime("order_7")
	otWrongEntity := f.oneTime("order_7")
	otInCookie := f.oneTime("order_7")
	otForged := jwt.OneTimeTokenPrefix + strings.Repeat("A", len(otUsed)-len(jwt.OneTimeTokenPrefix))
	f.secrets.oneTime("forged one-time token", otForged)
	skBroken := f.sk[:len(f.sk)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(f.sk, "A")]
	f.secrets.apiKey("API key with a bad checksum", skBroken)
	// A signed request replayed: the same headers twice.
	replayed := httptest.NewRequest(http.MethodGet, "/v1/orders", nil)
	require.NoError(t, f.signer.Sign(replayed, nil))
	replayHeader := replayed.Header.Clone()

	control := "agent/1.0\r\nX-Forged: yes\x00\x1b[31m\u2028\u202e\x7f\xff"
	reqs := []leakReq{
		// API keys where they belong.
		{name: "secret key", method: "GET", target: "/v1/orders", header: bearer(f.sk), want: 200},
		{name: "publishable key", method: "GET", target: "/v1/products", header: bearer(f.pk), want: 200},
		{name: "publishable key on a secret route", method: "GET", target: "/v1/orders", header: bearer(f.pk), want: 403},
		{name: "forged key", method: "GET", target: "/v1/orders", header: bearer(f.forged), want: 401},
		{name: "foreign key", method: "GET", target: "/v1/orders", header: bearer(f.foreign), want: 401},
		{name: "revoked key", method: "GET", target: "/v1/orders", header: bearer(f.revoked), want: 401},
		{name: "bad checksum", method: "GET", target: "/v1/orders", header: bearer(skBroken), want: 401},
		{name: "lower-case scheme", method: "GET", target: "/v1/orders", header: http.Header{"Authorization": {"bearer   " + f.sk}}, want: 200},
		{name: "two Authorization headers", method: "GET", target: "/v1/orders", header: http.Header{"Authorization": {"Bearer " + f.sk, "Bearer " + f.pk}}, want: 400},
		{name: "Basic credentials", method: "GET", target: "/v1/orders", header: http.Header{"Authorization": {basic}}, want: 401},
		{name: "key with CRLF", method: "GET", target: "/v1/orders", header: http.Header{"Authorization": {"Bearer " + f.sk + "\r\nX-Injected: " + f.pk}}, want: 401},
		{name: "oversized Authorization", method: "GET", target: "/v1/orders", header: http.Header{"Authorization": {"Bearer " + strings.Repeat(f.sk, 200)}}, want: 0},

		// API keys where they must not be.
		{name: "Proxy-Authorization", method: "GET", target: "/v1/orders", header: http.Header{"Proxy-Authorization": {"Bearer " + f.sk}}, want: 401},
		{name: "X-Api-Key", method: "GET", target: "/v1/orders", header: http.Header{"X-Api-Key": {f.sk}}, want: 401},
		{name: "Cookie", method: "GET", target: "/v1/orders", header: http.Header{"Cookie": {"session=" + f.jwtOK + "; api_key=" + f.sk}}, want: 401},
		{name: "?api_key=", method: "GET", target: "/v1/orders?api_key=" + f.sk, header: bearer(f.sk), want: 400},
		{name: "?API_KEY=", method: "GET", target: "/v1/orders?API_KEY=" + f.sk + "&page=2", header: bearer(f.sk), want: 400},
		{name: "?api%5Fkey=", method: "GET", target: "/v1/orders?api%5Fkey=" + f.pk, header: bearer(f.sk), want: 400},
		{name: "?apikey= twice", method: "GET", target: "/v1/orders?apikey=" + f.sk + "&apikey=" + f.revoked, header: bearer(f.sk), want: 400},
		{name: "?key= secret part", method: "GET", target: "/v1/orders?key=" + f.sk[len(f.sk)-apikey.ChecksumLen-apikey.SecretLen:], header: bearer(f.sk), want: 200},
		{name: "?access_token=", method: "GET", target: "/v1/orders?access_token=" + f.jwtOK, header: bearer(f.sk), want: 400},
		{name: "every secret parameter", method: "GET", header: bearer(f.sk), want: 200,
			target: "/v1/orders?token=" + q(otElsewhere) + "&secret=" + q(b64) + "&password=" + q(f.password) + "&client_secret=" + hexSecret +
				"&sig=" + q(b64) + "&signature=" + q(b64) + "&code=" + f.jwtPublic + "&x_refresh_token=" + f.jwtOK +
				"&My-Credential=" + q(basic) + "&pwd=" + f.password + "&page=1&sort=asc"},
		{name: "secret parameter without a key name", method: "GET", target: "/v1/orders?token&secret=&page=1", header: bearer(f.sk), want: 200},

		// Access tokens.
		{name: "access token", method: "GET", target: "/v1/orders", header: bearer(f.jwtOK), want: 200},
		{name: "public client's token", method: "GET", target: "/v1/products", header: bearer(f.jwtPublic), want: 200},
		{name: "public client's token on a secret route", method: "GET", target: "/v1/orders", header: bearer(f.jwtPublic), want: 403},
		{name: "tampered token", method: "GET", target: "/v1/orders", header: bearer(f.jwtTampered), want: 401},
		{name: "foreign token", method: "GET", target: "/v1/orders", header: bearer(f.jwtForeign), want: 401},
		{name: "token, forbidden store", method: "GET", target: "/v1/orders", header: bearer(f.jwtOK, "X-Store-Id", "store_9"), want: 403},
		{name: "token in X-Auth-Token", method: "GET", target: "/v1/orders", header: bearer(f.sk, "X-Auth-Token", f.jwtOK), want: 200},

		// Signed requests.
		{name: "signed GET", method: "GET", target: "/v1/orders", sign: f.signer, want: 200},
		{name: "signed POST", method: "POST", target: "/v1/echo", body: `{"secret":"` + b64 + `"}`, header: http.Header{"Content-Type": {"application/json"}}, sign: f.signer, want: 200},
		{name: "signed, secret query", method: "GET", target: "/v1/orders?secret=" + q(b64) + "&key=" + hexSecret, sign: f.signer, want: 200},
		{name: "signed, store header", method: "GET", target: "/v1/orders", header: http.Header{"X-Store-Id": {"store_1"}}, sign: f.signer, want: 200},
		{name: "first of a replay", method: "GET", target: "/v1/orders", header: replayHeader, want: 200},
		{name: "replayed signature", method: "GET", target: "/v1/orders", header: replayHeader, want: 401},
		{name: "tampered signature", method: "GET", target: "/v1/orders", sign: f.signer, want: 401, edit: func(r *http.Request) {
			v := r.Header.Get("Signature")
			i := strings.Index(v, ":") + 5
			r.Header.Set("Signature", v[:i]+map[bool]string{true: "B", false: "A"}[v[i] == 'A']+v[i+1:])
		}},
		{name: "signed, path changed", method: "GET", target: "/v1/products", sign: f.signer, want: 401, edit: func(r *http.Request) {
			r.URL.Path, r.RequestURI = "/v1/orders", "/v1/orders"
		}},
		{name: "foreign credential", method: "GET", target: "/v1/orders", sign: f.foreignSigner, want: 401},
		{name: "signature and Authorization", method: "GET", target: "/v1/orders", header: bearer(f.sk), sign: f.signer, want: 400},
		{name: "secret as the signature", method: "GET", target: "/v1/orders", want: 0, header: http.Header{
			"Signature":       {"sig1=:" + b64 + ":"},
			"Signature-Input": {`sig1=("@method");keyid="` + hexSecret + `";alg="hmac-sha256"`},
		}},

		// One-time tokens.
		{name: "one-time token", method: "POST", target: "/v1/checkout/order_7/confirm", header: bearer(otUsed), want: 200},
		{name: "one-time token again", method: "POST", target: "/v1/checkout/order_7/confirm", header: bearer(otUsed), want: 401},
		{name: "forged one-time token", method: "POST", target: "/v1/checkout/order_7/confirm", header: bearer(otForged), want: 401},
		{name: "one-time token elsewhere", method: "GET", target: "/v1/orders", header: bearer(otElsewhere), want: 401},
		{name: "one-time token, other entity", method: "POST", target: "/v1/checkout/order_8/confirm", header: bearer(otWrongEntity), want: 0},
		{name: "one-time token in a cookie", method: "POST", target: "/v1/checkout/order_7/confirm", header: http.Header{"Cookie": {"ot=" + otInCookie}}, want: 401},
		{name: "key on a one-time route", method: "POST", target: "/v1/checkout/order_7/confirm", header: bearer(f.sk), want: 401},

		// Other secret headers beside a valid key.
		{name: "custom redacted header", method: "GET", target: "/v1/orders", header: bearer(f.sk, leakCustomHeader, hexSecret), want: 200},
		{name: "secret-named headers", method: "GET", target: "/v1/orders", want: 200,
			header: bearer(f.sk, "X-Client-Secret", b64, "X-Password", f.password, "Set-Cookie", "sid="+f.jwtOK)},

		// Control characters in every recorded field.
		{name: "control characters", method: "POST", target: "/v1/echo?q=a%0D%0Ab&note=%E2%80%A8", want: 400, body: "{}", // the store header is refused
			header: bearer(f.sk, "User-Agent", control, "Content-Type", "application/json\r\nX-Injected: yes", "X-Request-Id", "req\r\n1",
				"X-Forwarded-For", "203.0.113.9\r\nX-Forged: 1", "Forwarded", "for=\"\u202e\"", "X-Store-Id", "store_1\n")},
		{name: "raw control characters in the URL", method: "GET", target: "/v1/echo/x", header: bearer(f.sk, "User-Agent", "\xff\xfe"), want: 0, edit: func(r *http.Request) {
			r.URL.Path, r.URL.RawPath = "/v1/echo/a\r\nb\x00", ""
			r.URL.RawQuery = "q=a\r\nb\x1b&token=" + f.jwtOK + "\r\n&api_key=" + f.sk
		}},
		{name: "control characters in the method", method: "GET", target: "/v1/orders", header: bearer(f.sk), want: 0, edit: func(r *http.Request) {
			r.Method = "GET\r\nX-Forged: 1"
		}},
		{name: "encoded CRLF in the path", method: "GET", target: "/v1/echo/line%0D%0Abreak%00", header: bearer(f.sk), want: 200},

		// Routes without authentication.
		{name: "public route, token in the query", method: "GET", target: "/healthz?token=" + f.jwtOK + "&client_secret=" + q(b64), want: 200},
		{name: "no route, key in the query", method: "GET", target: "/nowhere?api_key=" + f.sk, header: http.Header{"X-Api-Key": {f.sk}}, want: 404},
	}
	return reqs
}

// send runs the requests, checking their statuses.
func (f *leakFixture) send(t *testing.T, reqs []leakReq) {
	t.Helper()
	for i, c := range reqs {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		r := httptest.NewRequest(c.method, c.target, body)
		// A new client address each time: the suite's many failures must
		// not trip the failed-authentication limit.
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:%d", i%250+1, 40000+i)
		for name, vs := range c.header {
			r.Header[name] = append([]string(nil), vs...)
		}
		if c.sign != nil {
			require.NoError(t, c.sign.Sign(r, []byte(c.body)), c.name)
		}
		if c.edit != nil {
			c.edit(r)
		}
		// The MAC of a signature is no less secret than the key: with the
		// rest of the request it could be replayed once.
		if v := r.Header.Get("Signature"); strings.Count(v, ":") >= 2 {
			mac := v[strings.Index(v, ":")+1 : strings.LastIndex(v, ":")]
			if _, known := f.secrets[mac]; !known {
				f.secrets.add("signature of request "+strconv.Quote(c.name), mac)
			}
		}
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, r)
		if c.want != 0 && rec.Code != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.name, rec.Code, c.want, rec.Body)
		}
		if rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", c.name)
		}
	}
}

// outputs closes the writer and returns every sink's complete output.
func (f *leakFixture) outputs(t *testing.T, events int) []leakOutput {
	t.Helper()
	require.NoError(t, f.writer.Close(context.Background()))
	require.NoError(t, f.file.Close())
	st := f.writer.Stats()
	require.Equal(t, audit.Stats{Emitted: uint64(events), Written: uint64(events)}, st, "one event per request, none dropped")

	var mem bytes.Buffer
	for _, e := range f.mem.Events() {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		mem.Write(b)
		mem.WriteByte('\n')
	}
	file, err := os.ReadFile(f.path)
	require.NoError(t, err)
	return []leakOutput{
		{name: "memory sink (events as JSON)", data: mem.Bytes(), json: true, lines: events},
		{name: "file sink", data: file, json: true, lines: events},
		{name: "slog sink, JSON handler", data: f.jsonLog.Bytes(), json: true, lines: events},
		{name: "slog sink, text handler", data: f.textLog.Bytes(), lines: events},
	}
}

func TestAuditSinksLeakNoSecrets(t *testing.T) {
	for _, tc := range []struct {
		name     string
		redactor *audit.Redactor
		// recorded: the secret headers are recorded (as [REDACTED]).
		recorded bool
	}{
		{"secret headers recorded", audit.NewRedactor(audit.RedactorConfig{Headers: []string{leakCustomHeader}, RecordHeaders: leakRecordHeaders}), true},
		{"default redactor", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLeakFixture(t, tc.redactor, nil)
			reqs := f.suite(t)
			f.send(t, reqs)
			outs := f.outputs(t, len(reqs))

			// Non-vacuous: the requests were audited with their callers'
			// public IDs, and the redaction markers are there.
			wantIn := map[string]string{
				"secret key ID":      f.skID,
				"publishable key ID": f.pkID,
				"HMAC key ID":        f.hmacKeyID,
				"access token ID":    f.jti,
				"query redaction":    "=REDACTED",
			}
			if tc.recorded {
				wantIn["header redaction"] = audit.Redacted
			}
			for _, out := range outs {
				leakCheckFormat(t, out)
				for what, v := range wantIn {
					if !bytes.Contains(out.data, []byte(v)) {
						t.Errorf("%s: no %s: the test would pass vacuously", out.name, what)
					}
				}
				// The one-time token's caller and an HMAC caller were
				// recorded as such.
				for _, method := range []keygate.Method{keygate.MethodAPIKey, keygate.MethodJWT, keygate.MethodHMAC, keygate.MethodOneTime} {
					if !bytes.Contains(out.data, []byte(method)) {
						t.Errorf("%s: no request authenticated by %s", out.name, method)
					}
				}
			}

			// The grep itself.
			require.Greater(t, len(f.secrets), 40)
			for _, out := range outs {
				for _, leak := range leakFind(out, f.secrets) {
					t.Errorf("SECRET LEAKED to the %s", leak)
				}
			}

			// The memory sink's events, field by field.
			events := f.mem.Events()
			require.Len(t, events, len(reqs))
			for i, e := range events {
				if len(e.Path) > audit.DefaultMaxField || len(e.UserAgent) > audit.DefaultMaxField {
					t.Errorf("event %d (%s): a free-text field over %d bytes", i, reqs[i].name, audit.DefaultMaxField)
				}
				if tc.recorded {
					for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Signature", "Signature-Input", "X-Api-Key",
						leakCustomHeader, "X-Auth-Token", "X-Client-Secret", "X-Password"} {
						if v, ok := e.Headers[h]; ok && v != audit.Redacted {
							t.Errorf("event %d (%s): header %s recorded unredacted", i, reqs[i].name, h)
						}
					}
				}
			}
			// The signed and the control-character requests came through
			// with what the test expects to check.
			byName := map[string]audit.Event{}
			for i, e := range events {
				byName[reqs[i].name] = e
			}
			if e := byName["signed GET"]; e.AuthMethod != string(keygate.MethodHMAC) || e.KeyID != f.hmacKeyID {
				t.Errorf("signed GET recorded as %q/%q", e.AuthMethod, e.KeyID)
			}
			if e := byName["one-time token"]; e.AuthMethod != string(keygate.MethodOneTime) || e.KeyID != f.skID {
				t.Errorf("one-time token recorded as %q/%q", e.AuthMethod, e.KeyID)
			}
			if tc.recorded {
				for _, name := range []string{"secret key", "signed GET", "Cookie", "X-Api-Key", "custom redacted header", "secret as the signature"} {
					if len(byName[name].Headers) == 0 {
						t.Errorf("%s: no header recorded", name)
					}
				}
			}
			e := byName["control characters"]
			for field, v := range map[string]string{"user_agent": e.UserAgent, "path": e.Path, "Content-Type": e.Headers["Content-Type"], "X-Forwarded-For": e.Headers["X-Forwarded-For"]} {
				if !strings.Contains(v, `\r\n`) && !strings.Contains(v, `%0D%0A`) {
					t.Errorf("control characters: %s = %q, want CR LF escaped", field, v)
				}
			}
		})
	}
}

// TestAuditLeakCheckCatchesALeakySink runs the suite with a file sink that
// writes each request's raw Authorization header into its event, as a
// buggy sink (or redactor) would: the grep must report the leak, in that
// sink and that field only. It keeps TestAuditSinksLeakNoSecrets from
// passing by checking nothing.
func TestAuditLeakCheckCatchesALeakySink(t *testing.T) {
	var raw sync.Map // request ID → raw Authorization header
	f := newLeakFixture(t, nil, func(s audit.Sink) audit.Sink { return &leakySink{Sink: s, raw: &raw} })
	inner := f.handler
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := rand.Text()
		r.Header.Set("X-Request-Id", id) // trusted: the event carries it
		if v := r.Header.Get("Authorization"); v != "" {
			raw.Store(id, v)
		}
		inner.ServeHTTP(w, r)
	})
	var reqs []leakReq // the requests with an Authorization header
	for _, c := range f.suite(t) {
		if c.header.Get("Authorization") != "" && c.sign == nil {
			reqs = append(reqs, c)
		}
	}
	require.Greater(t, len(reqs), 20)
	f.send(t, reqs)
	outs := f.outputs(t, len(reqs))
	for _, out := range outs {
		found := leakFind(out, f.secrets)
		if out.name != "file sink" {
			require.Empty(t, found, out.name)
			continue
		}
		require.NotEmpty(t, found, "the leaky sink's output passed the grep")
		for _, leak := range found {
			require.Contains(t, leak.where, "field headers.Authorization", leak.String())
		}
		t.Logf("the grep found %d leaks, such as: %s", len(found), found[0])
	}
}

// leakySink adds the raw Authorization header of each event's request.
type leakySink struct {
	audit.Sink
	raw *sync.Map
}

func (s *leakySink) Write(ctx context.Context, batch []audit.Event) error {
	out := make([]audit.Event, len(batch))
	for i, e := range batch {
		if v, ok := s.raw.Load(e.RequestID); ok {
			e.Headers = maps.Clone(e.Headers)
			if e.Headers == nil {
				e.Headers = map[string]string{}
			}
			e.Headers["Authorization"] = v.(string)
		}
		out[i] = e
	}
	return s.Sink.Write(ctx, out)
}

// TestAuditLeakFindNamesTheField checks the grep on planted secrets in each
// output format, spelled as the sinks would spell them.
func TestAuditLeakFindNamesTheField(t *testing.T) {
	key, b64 := "bk_test_sk_"+rand.Text()+rand.Text(), base64.StdEncoding.EncodeToString([]byte(rand.Text()+"+/?"))
	secrets := leakSecrets{}
	secrets.apiKey("key", key)
	secrets.add("b64", b64)
	for _, tc := range []struct {
		out  leakOutput
		want string
	}{
		{leakOutput{name: "json", json: true, data: []byte(`{"seq":1,"headers":{"Authorization":"Bearer ` + key + `"}}` + "\n")}, "field headers.Authorization"},
		{leakOutput{name: "text", data: []byte(`time=2025-01-01T00:00:00Z level=INFO msg=audit user_agent="a b" headers.Cookie="k=` + key + `"` + "\n")}, "field headers.Cookie"},
		{leakOutput{name: "query", json: true, data: []byte(`{"seq":1}` + "\n" + `{"path":"/x?q=` + url.QueryEscape(b64) + `"}` + "\n")}, "line 2, field path"},
	} {
		found := leakFind(tc.out, secrets)
		require.NotEmpty(t, found, tc.out.name)
		require.Contains(t, found[0].where, tc.want, tc.out.name)
	}
}

// TestAuditScrubsFreeText checks that the middleware's default Redactor
// scrubs its own keys and tokens from the free-text fields, wherever a
// client put them: a path segment, a query parameter with an innocent name
// (percent-encoded too), the user agent, a trusted X-Request-Id,
// X-Forwarded-For. A Redactor without those prefixes would record them
// whole (escaped): the test runs that case too, to show it can fail.
func TestAuditScrubsFreeText(t *testing.T) {
	for _, tc := range []struct {
		name     string
		redactor *audit.Redactor // nil: the middleware's default
		scrubbed bool
	}{
		{"the middleware's default redactor", nil, true},
		{"a redactor without the key prefixes", audit.NewRedactor(audit.RedactorConfig{Headers: []string{leakCustomHeader}, RecordHeaders: leakRecordHeaders}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLeakFixture(t, tc.redactor, nil)
			reqs := []leakReq{
				{name: "API key in a path segment", method: "GET", target: "/v1/echo/" + f.sk, header: bearer(f.pk), want: 200},
				{name: "API key under a non-secret query name", method: "GET", target: "/v1/orders?q=" + f.sk, header: bearer(f.pk), want: 400},
				{name: "API key percent-encoded in the query", method: "GET", target: "/v1/orders?q=" + strings.ReplaceAll(f.sk, "_", "%5F"), header: bearer(f.pk), want: 400},
				{name: "API key as the user agent", method: "GET", target: "/v1/orders", header: bearer(f.sk, "User-Agent", "client "+f.pk), want: 200},
				{name: "API key as the request ID", method: "GET", target: "/v1/orders", header: bearer(f.sk, "X-Request-Id", f.revoked), want: 200},
				{name: "API key in X-Forwarded-For", method: "GET", target: "/v1/orders", header: bearer(f.sk, "X-Forwarded-For", f.foreign), want: 200},
			}
			f.send(t, reqs)
			outs := f.outputs(t, len(reqs))
			found := 0
			for _, out := range outs {
				for _, secret := range []string{f.sk, f.pk, f.revoked, f.foreign} {
					if strings.Contains(string(out.data), secret) || strings.Contains(string(out.data), secret[len(secret)-49:]) {
						found++
						if tc.scrubbed {
							t.Errorf("%s: %s is recorded", out.name, f.secrets[secret])
						}
					}
				}
			}
			if !tc.scrubbed {
				require.Positive(t, found, "without the prefixes the keys are recorded: the check can fail")
			}
		})
	}
}
