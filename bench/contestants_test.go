package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/go-chi/jwtauth/v5"
	golangjwt "github.com/golang-jwt/jwt/v5"
	jwxv2jwt "github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/lestrrat-go/jwx/v3/jwa"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/yaronf/httpsign"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// The claims every token carries, and the account every contestant must
// find in the request context.
const (
	issuer   = "https://keygate.test"
	audience = "api"
	account  = "acct_1"
)

// grant is the grant of every credential: the same claims for every
// contestant.
var grant = keygate.Grant{
	Account:     account,
	Mode:        keygate.ModeTest,
	Package:     "GO",
	Permissions: []string{"products:read", "offers:write"},
	Stores:      []string{"store_1", "store_2"},
}

// identityFunc reads the caller's account from a request context, as each
// contestant stores it there.
type identityFunc func(context.Context) (string, bool)

// whoami is the handler behind every contestant: it reads the identity
// from the context, as a real handler would, and answers 204 when it is
// the fixture's account (500 otherwise).
func whoami(identity identityFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := identity(r.Context()); !ok || a != account {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// keygateIdentity reads keygate's Principal.
func keygateIdentity(ctx context.Context) (string, bool) {
	p, ok := keygate.FromContext(ctx)
	return p.Account, ok
}

// floorKey is the context key of the floors and of the hand-written
// golang-jwt and jwx middlewares.
type floorKey struct{}

func floorIdentity(ctx context.Context) (string, bool) {
	a, ok := ctx.Value(floorKey{}).(string)
	return a, ok
}

// A contestant is one implementation of a path behind whoami.
type contestant struct {
	name string
	h    http.Handler
	// reset, when set, empties the contestant's nonce store between
	// batches of signed requests, outside the timer.
	reset func()
}

// unauthorized is the refusal of the floors and hand-written middlewares.
func unauthorized(w http.ResponseWriter) { w.WriteHeader(http.StatusUnauthorized) }

// bearer returns the credential of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// tokenFixture is an HS256 or RS256 token issued by keygate, with what a
// peer needs to verify it.
type tokenFixture struct {
	token  string
	keys   *jwt.KeySet
	alg    string
	verify any // the HMAC secret or the RSA public key
}

var hmacSecret = bytes.Repeat([]byte("0123456789abcdef"), 2)

func newTokenFixture(tb testing.TB, alg string) *tokenFixture {
	tb.Helper()
	f := &tokenFixture{alg: alg}
	var key *jwt.Key
	var err error
	switch alg {
	case "HS256":
		key, err = jwt.NewHMACKey("k1", hmacSecret)
		f.verify = hmacSecret
	case "RS256":
		var priv *rsa.PrivateKey
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		key, err = jwt.NewSigningKey("k1", priv)
		f.verify = &priv.PublicKey
	}
	if err != nil {
		tb.Fatal(err)
	}
	if f.keys, err = jwt.NewKeySet(key); err != nil {
		tb.Fatal(err)
	}
	iss, err := jwt.NewIssuer(jwt.IssuerConfig{Keys: f.keys, Issuer: issuer, Audience: audience})
	if err != nil {
		tb.Fatal(err)
	}
	f.token, _, err = iss.Issue(tb.Context(), jwt.Claims{Subject: account, ClientID: "0jPS8MolTrPGFJph", Scope: "products:read offers:write",
		Grant: grant, ClientKind: keygate.KindSecret})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// keygateTokens is keygate's middleware with a token verifier; cacheSize
// -1 turns its cache of verified tokens off (every token is seen for the
// first time).
func keygateTokens(tb testing.TB, f *tokenFixture, cacheSize int) contestant {
	v, err := jwt.NewVerifier(jwt.VerifierConfig{Keys: f.keys, Issuer: issuer, Audience: audience, CacheSize: cacheSize})
	if err != nil {
		tb.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{Tokens: v})
	if err != nil {
		tb.Fatal(err)
	}
	return contestant{name: "keygate", h: auth.Handler(whoami(keygateIdentity))}
}

// typedClaims are keygate's access-token claims as a golang-jwt user would
// declare them.
type typedClaims struct {
	golangjwt.RegisteredClaims
	ClientID    string   `json:"client_id"`
	Scope       string   `json:"scope"`
	Account     string   `json:"kg_account"`
	Mode        string   `json:"kg_mode"`
	Package     string   `json:"kg_package"`
	Permissions []string `json:"kg_permissions"`
	Stores      []string `json:"kg_stores"`
}

// golangJWT is a hand-written middleware on golang-jwt v5 checking what
// keygate checks (algorithm, signature, iss, aud, exp required), with map
// claims or typed ones.
func golangJWT(f *tokenFixture, typed bool) contestant {
	parser := golangjwt.NewParser(golangjwt.WithValidMethods([]string{f.alg}), golangjwt.WithIssuer(issuer),
		golangjwt.WithAudience(audience), golangjwt.WithExpirationRequired())
	keyfunc := func(*golangjwt.Token) (any, error) { return f.verify, nil }
	name := "golang-jwt-map"
	if typed {
		name = "golang-jwt-typed"
	}
	return contestant{name: name, h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		var sub string
		if typed {
			var c typedClaims
			if _, err := parser.ParseWithClaims(raw, &c, keyfunc); err != nil {
				unauthorized(w)
				return
			}
			sub = c.Account
		} else {
			c := golangjwt.MapClaims{}
			if _, err := parser.ParseWithClaims(raw, c, keyfunc); err != nil {
				unauthorized(w)
				return
			}
			sub, _ = c["kg_account"].(string)
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, sub)))
	})}
}

// jwtAuth is go-chi/jwtauth v5's Verifier and Authenticator (on jwx v2).
func jwtAuth(f *tokenFixture) contestant {
	ja := jwtauth.New(f.alg, nil, f.verify, jwxv2jwt.WithIssuer(issuer), jwxv2jwt.WithAudience(audience), jwxv2jwt.WithRequiredClaim("exp"))
	identity := func(ctx context.Context) (string, bool) {
		tok, claims, err := jwtauth.FromContext(ctx)
		if err != nil || tok == nil {
			return "", false
		}
		a, ok := claims["kg_account"].(string)
		return a, ok
	}
	return contestant{name: "jwtauth", h: jwtauth.Verifier(ja)(jwtauth.Authenticator(ja)(whoami(identity)))}
}

// auth0Claims are keygate's claims for auth0's validator.
type auth0Claims struct {
	Account     string   `json:"kg_account"`
	Mode        string   `json:"kg_mode"`
	Package     string   `json:"kg_package"`
	Permissions []string `json:"kg_permissions"`
	Stores      []string `json:"kg_stores"`
}

func (c *auth0Claims) Validate(context.Context) error {
	if c.Account == "" {
		return errors.New("no account")
	}
	return nil
}

// auth0 is auth0/go-jwt-middleware v2's CheckJWT with its validator (on
// go-jose v2) and keygate's claims as custom claims.
func auth0(tb testing.TB, f *tokenFixture) contestant {
	v, err := validator.New(func(context.Context) (any, error) { return f.verify, nil }, validator.SignatureAlgorithm(f.alg), issuer, []string{audience},
		validator.WithCustomClaims(func() validator.CustomClaims { return &auth0Claims{} }))
	if err != nil {
		tb.Fatal(err)
	}
	identity := func(ctx context.Context) (string, bool) {
		c, ok := ctx.Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
		if !ok || c.RegisteredClaims.Expiry == 0 {
			return "", false
		}
		custom, ok := c.CustomClaims.(*auth0Claims)
		if !ok {
			return "", false
		}
		return custom.Account, true
	}
	return contestant{name: "auth0", h: jwtmiddleware.New(v.ValidateToken).CheckJWT(whoami(identity))}
}

// jwx is a hand-written middleware on lestrrat-go/jwx v3's jwt.Parse.
func jwx(f *tokenFixture) contestant {
	alg, ok := jwa.LookupSignatureAlgorithm(f.alg)
	if !ok {
		panic("jwx: no algorithm " + f.alg)
	}
	return contestant{name: "jwx", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		tok, err := jwxjwt.ParseString(raw, jwxjwt.WithKey(alg, f.verify), jwxjwt.WithIssuer(issuer), jwxjwt.WithAudience(audience),
			jwxjwt.WithRequiredClaim("exp"))
		if err != nil {
			unauthorized(w)
			return
		}
		var a string
		if err := tok.Get("kg_account", &a); err != nil {
			unauthorized(w)
			return
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, a)))
	})}
}

// floorClaims are the claims the HS256 floor reads.
type floorClaims struct {
	Iss     string `json:"iss"`
	Aud     string `json:"aud"`
	Exp     int64  `json:"exp"`
	Account string `json:"kg_account"`
}

// hs256Floor is the minimal standard-library check of an HS256 token:
// split, the header's alg, HMAC-SHA256 over the signing input, iss, aud,
// exp, the context.
func hs256Floor(f *tokenFixture) contestant {
	secret := f.verify.([]byte)
	return contestant{name: "floor", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		dot := strings.LastIndexByte(raw, '.')
		header, payload, ok := strings.Cut(raw[:max(dot, 0)], ".")
		if dot < 0 || !ok {
			unauthorized(w)
			return
		}
		sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		mac := hmac.New(sha256.New, secret)
		io.WriteString(mac, raw[:dot])
		if err != nil || !hmac.Equal(mac.Sum(nil), sig) {
			unauthorized(w)
			return
		}
		var h struct {
			Alg string `json:"alg"`
		}
		var c floorClaims
		hb, err1 := base64.RawURLEncoding.DecodeString(header)
		pb, err2 := base64.RawURLEncoding.DecodeString(payload)
		if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil || h.Alg != "HS256" || json.Unmarshal(pb, &c) != nil ||
			c.Iss != issuer || c.Aud != audience || time.Now().Unix() >= c.Exp {
			unauthorized(w)
			return
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, c.Account)))
	})}
}

// cachedFloor is the minimal standard-library check of a token seen
// before, the shape of the API-key floor: SHA-256 of the token, a map
// lookup, a constant-time compare, the expiry, the context.
func cachedFloor(f *tokenFixture) contestant {
	type entry struct {
		hash    [sha256.Size]byte
		account string
		exp     time.Time
	}
	sum := sha256.Sum256([]byte(f.token))
	seen := map[[sha256.Size]byte]entry{sum: {hash: sum, account: account, exp: time.Now().Add(time.Hour)}}
	var mu sync.RWMutex
	return contestant{name: "floor", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok {
			unauthorized(w)
			return
		}
		sum := sha256.Sum256([]byte(raw))
		mu.RLock()
		e, ok := seen[sum]
		mu.RUnlock()
		if !ok || subtle.ConstantTimeCompare(e.hash[:], sum[:]) != 1 || !time.Now().Before(e.exp) {
			unauthorized(w)
			return
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, e.account)))
	})}
}

// rs256Floor is rsa.VerifyPKCS1v15 alone: the signature of the token's
// signing input, and the context. It reads no claim.
func rs256Floor(f *tokenFixture) contestant {
	pub := f.verify.(*rsa.PublicKey)
	return contestant{name: "floor", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		dot := strings.LastIndexByte(raw, '.')
		if !ok || dot < 0 {
			unauthorized(w)
			return
		}
		sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		digest := sha256.Sum256([]byte(raw[:dot]))
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			unauthorized(w)
			return
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, account)))
	})}
}

// tokenContestants are the contestants of an HS256 or RS256 token seen for
// the first time.
func tokenContestants(tb testing.TB, f *tokenFixture) []contestant {
	var floor contestant
	if f.alg == "RS256" {
		floor = rs256Floor(f)
	} else {
		floor = hs256Floor(f)
	}
	return []contestant{keygateTokens(tb, f, -1), golangJWT(f, false), golangJWT(f, true), jwtAuth(f), auth0(tb, f), jwx(f), floor}
}

// apiKeyFixture is a secret key of keygate's apikey package.
type apiKeyFixture struct {
	keys *apikey.Manager
	key  string
}

func newAPIKeyFixture(tb testing.TB) *apiKeyFixture {
	tb.Helper()
	keys, err := apikey.NewManager(apikey.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { keys.Close(context.Background()) })
	k, _, err := keys.Create(tb.Context(), apikey.CreateParams{Grant: grant, Kind: keygate.KindSecret})
	if err != nil {
		tb.Fatal(err)
	}
	return &apiKeyFixture{keys: keys, key: k.Reveal()}
}

// apiKeyFloor is the minimal standard-library check of an API key: parse
// Bearer, SHA-256 of the secret, a map lookup by key ID, a constant-time
// compare, the context.
func apiKeyFloor(f *apiKeyFixture) contestant {
	const idLen, secretLen, checksumLen = 16, 43, 6
	type record struct {
		hash    [sha256.Size]byte
		account string
	}
	body := f.key[len(f.key)-idLen-secretLen-checksumLen:]
	records := map[string]record{body[:idLen]: {hash: sha256.Sum256([]byte(body[idLen : idLen+secretLen])), account: account}}
	var mu sync.RWMutex
	return contestant{name: "floor", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearer(r)
		if !ok || len(raw) < idLen+secretLen+checksumLen {
			unauthorized(w)
			return
		}
		body := raw[len(raw)-idLen-secretLen-checksumLen:]
		sum := sha256.Sum256([]byte(body[idLen : idLen+secretLen]))
		mu.RLock()
		rec, ok := records[body[:idLen]]
		mu.RUnlock()
		if !ok || subtle.ConstantTimeCompare(rec.hash[:], sum[:]) != 1 {
			unauthorized(w)
			return
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, rec.account)))
	})}
}

func apiKeyContestants(tb testing.TB, f *apiKeyFixture) []contestant {
	auth, err := middleware.New(middleware.Config{APIKeys: f.keys})
	if err != nil {
		tb.Fatal(err)
	}
	return []contestant{{name: "keygate", h: auth.Handler(whoami(keygateIdentity))}, apiKeyFloor(f)}
}

// signedFixture is an HMAC credential of keygate's httpsig package, its
// secret sealed in a Manager, and requests signed with it.
type signedFixture struct {
	creds  *httpsig.Manager
	keyID  string
	secret []byte
	body   []byte
}

func newSignedFixture(tb testing.TB) *signedFixture {
	tb.Helper()
	creds, err := httpsig.NewManager(httpsig.Config{MasterKey: bytes.Repeat([]byte{0x42}, httpsig.MasterKeyLen)})
	if err != nil {
		tb.Fatal(err)
	}
	s, _, err := creds.Create(tb.Context(), httpsig.CreateParams{Grant: grant})
	if err != nil {
		tb.Fatal(err)
	}
	return &signedFixture{creds: creds, keyID: s.KeyID(), secret: s.Reveal(), body: bytes.Repeat([]byte("k"), 1024)}
}

// request returns a POST of the fixture's body signed by keygate's Signer
// with a fresh nonce.
func (f *signedFixture) request(tb testing.TB) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/orders", bytes.NewReader(f.body))
	r.Header.Set("Content-Type", "application/json")
	if err := (&httpsig.Signer{KeyID: f.keyID, Secret: f.secret}).Sign(r, f.body); err != nil {
		tb.Fatal(err)
	}
	return r
}

// resettableHandler serves through the handler its contestant's reset
// made last.
type resettableHandler struct{ h http.Handler }

func (s *resettableHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.ServeHTTP(w, r) }

// keygateSigned is keygate's middleware with a signature verifier over
// the Manager and an in-memory nonce store, configured as a service
// configures them (keygate serve, bench/load): the store given to the
// verifier itself, which then claims each nonce at its own clock reading.
// Its reset, between batches and outside the timer, empties the store by
// making the verifier and the middleware again over a new one (a store
// behind a wrapper of the benchmark's would read the clock again for
// each nonce, which no service does).
func keygateSigned(tb testing.TB, f *signedFixture) contestant {
	h := &resettableHandler{}
	reset := func() {
		nonces := httpsig.NewMemoryNonceStore(httpsig.MemoryNonceConfig{})
		v, err := httpsig.NewVerifier(httpsig.VerifierConfig{Authorities: httpsig.AnyAuthority, Credentials: f.creds, Nonces: nonces})
		if err != nil {
			panic(err) // the same configuration as the first, which worked
		}
		auth, err := middleware.New(middleware.Config{Signatures: v})
		if err != nil {
			panic(err)
		}
		h.h = auth.Handler(whoami(keygateIdentity))
	}
	reset()
	return contestant{name: "keygate", h: h, reset: reset}
}

// yaronfHTTPSign is a hand-written middleware on yaronf/httpsign checking
// the same components, the algorithm, created (within 300 seconds, as
// keygate), a nonce once and Content-Digest.
func yaronfHTTPSign(tb testing.TB, f *signedFixture) contestant {
	var mu sync.Mutex
	seen := map[string]bool{}
	nonceOnce := func(n string) error {
		mu.Lock()
		defer mu.Unlock()
		if n == "" || seen[n] {
			return errors.New("nonce replayed")
		}
		seen[n] = true
		return nil
	}
	// created within keygate's default skew, either way.
	cfg := httpsign.NewVerifyConfig().SetKeyID(f.keyID).SetNonceValidator(nonceOnce).SetAllowedAlgs([]string{"hmac-sha256"}).
		SetNotOlderThan(httpsig.DefaultSkew).SetNotNewerThan(httpsig.DefaultSkew)
	verifier, err := httpsign.NewHMACSHA256Verifier(f.secret, cfg,
		httpsign.Headers("@method", "@authority", "@path", "@query", "content-digest", "content-type"))
	if err != nil {
		tb.Fatal(err)
	}
	return contestant{name: "httpsign", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := httpsign.VerifyRequest("sig1", *verifier, r); err != nil {
			unauthorized(w)
			return
		}
		if err := httpsign.ValidateContentDigestHeader(r.Header.Values("Content-Digest"), &r.Body, []string{httpsign.DigestSha256}); err != nil {
			unauthorized(w)
			return
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, account)))
	}), reset: func() {
		mu.Lock()
		defer mu.Unlock()
		clear(seen)
	}}
}

// signedFloor is the minimal standard-library check of a signed POST:
// SHA-256 of the body against Content-Digest, the signature base of the
// covered components, HMAC-SHA256 over it, the context. It leaves out
// what keygate does besides: the created window, the nonce store, the
// structured-field parsing, the required components.
func signedFloor(f *signedFixture) contestant {
	secrets := map[string][]byte{f.keyID: f.secret}
	return contestant{name: "floor", h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			unauthorized(w)
			return
		}
		digest := sha256.Sum256(body)
		want, ok := strings.CutPrefix(r.Header.Get("Content-Digest"), "sha-256=:")
		got, err := base64.StdEncoding.AppendDecode(nil, []byte(strings.TrimSuffix(want, ":")))
		if !ok || err != nil || !hmac.Equal(got, digest[:]) {
			unauthorized(w)
			return
		}
		params, ok := strings.CutPrefix(r.Header.Get("Signature-Input"), "sig1=")
		end := strings.IndexByte(params, ')')
		_, keyID, _ := strings.Cut(params, `keyid="`)
		keyID, _, _ = strings.Cut(keyID, `"`)
		secret := secrets[keyID]
		if !ok || !strings.HasPrefix(params, "(") || end < 0 || secret == nil {
			unauthorized(w)
			return
		}
		var base []byte
		for name := range strings.FieldsSeq(params[1:end]) {
			name, err := strconv.Unquote(name)
			if err != nil {
				unauthorized(w)
				return
			}
			var v string
			switch name {
			case "@method":
				v = r.Method
			case "@authority":
				v = strings.ToLower(r.Host)
			case "@path":
				v = r.URL.EscapedPath()
			case "@query":
				v = "?" + r.URL.RawQuery
			default:
				v = r.Header.Get(name)
			}
			base = append(append(append(append(base, '"'), name...), `": `...), v...)
			base = append(base, '\n')
		}
		base = append(append(base, `"@signature-params": `...), params...)
		mac := hmac.New(sha256.New, secret)
		mac.Write(base)
		sig, ok := strings.CutPrefix(r.Header.Get("Signature"), "sig1=:")
		got, err = base64.StdEncoding.AppendDecode(got[:0], []byte(strings.TrimSuffix(sig, ":")))
		if !ok || err != nil || !hmac.Equal(mac.Sum(nil), got) {
			unauthorized(w)
			return
		}
		whoami(floorIdentity).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey{}, account)))
	})}
}

func signedContestants(tb testing.TB, f *signedFixture) []contestant {
	return []contestant{keygateSigned(tb, f), yaronfHTTPSign(tb, f), signedFloor(f)}
}
