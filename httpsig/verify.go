package httpsig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/internal/hmacpool"
)

// Defaults of [VerifierConfig].
const (
	DefaultSkew        = 300 * time.Second
	DefaultMaxBody     = 1 << 20
	DefaultStoreHeader = "X-Store-Id"
)

// AnyAuthority, as [VerifierConfig.Authorities], accepts a signature for
// any host. Use it only when no other service shares the credentials: a
// request signed for another service could otherwise be replayed here once.
var AnyAuthority = []string{"*"}

// VerifierConfig configures a [Verifier].
type VerifierConfig struct {
	// Authorities are the hosts this server answers to, as clients sign
	// them: host[:port], lower case, without the default port (the
	// @authority rule of SPEC.md). A signature made for any other authority
	// is refused ([ErrMisdirected]). Required; see [AnyAuthority].
	Authorities []string
	// Credentials finds the secrets of a key ID. Required.
	Credentials CredentialSource
	// Nonces remembers accepted nonces. Nil means a new
	// [MemoryNonceStore] with its defaults (1<<20 nonces, of which one
	// key ID may hold 1/64: a request over that share is refused with
	// [ErrNonceQuota]).
	Nonces NonceStore
	// Skew is how far created may be from the server clock, either way.
	// Zero means 300 seconds. Nonces are kept for twice as long (plus a
	// second), from created when it is ahead of the server clock.
	Skew time.Duration
	// MaxBody bounds the body read to check Content-Digest; a larger body
	// is refused with [ErrBodyTooLarge] before any MAC work. Zero means
	// 1 MiB.
	MaxBody int64
	// RequiredHeaders must be covered whenever the request carries them,
	// beside Content-Type: headers a handler trusts, such as the store
	// header. Nil means {"X-Store-Id"}.
	RequiredHeaders []string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Verifier checks v3 signatures on incoming requests. It is safe for
// concurrent use.
type Verifier struct {
	cfg         VerifierConfig
	required    []string // lower-case header names
	requiredKey []string // the same, canonical (http.Header keys)
	authorities map[string]bool
	anyHost     bool
	manager     *Manager // Credentials, when it is a Manager
	// sharedClock: the verifier's clock is time.Now, as the Manager's is,
	// so that one reading serves both.
	sharedClock bool
	// nonces is Nonces when it is a MemoryNonceStore on the verifier's
	// clock (the one it made, or one on time.Now when the verifier's is
	// too): it gets the verifier's reading.
	nonces *MemoryNonceStore
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("httpsig: VerifierConfig.Credentials is required")
	}
	if len(cfg.Authorities) == 0 {
		return nil, errors.New("httpsig: VerifierConfig.Authorities is required (httpsig.AnyAuthority accepts any host)")
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	systemClock := cfg.Now == nil
	if systemClock {
		cfg.Now = time.Now
	}
	var ownNonces *MemoryNonceStore // on the verifier's clock
	if cfg.Nonces == nil {
		ownNonces = NewMemoryNonceStore(MemoryNonceConfig{Now: cfg.Now})
		cfg.Nonces = ownNonces
	}
	if cfg.RequiredHeaders == nil {
		cfg.RequiredHeaders = []string{DefaultStoreHeader}
	}
	v := &Verifier{cfg: cfg, required: []string{"content-type"}, authorities: map[string]bool{}}
	v.manager, _ = cfg.Credentials.(*Manager)
	v.sharedClock = systemClock && v.manager != nil && v.manager.systemClock
	v.nonces = ownNonces
	if ns, ok := cfg.Nonces.(*MemoryNonceStore); ok && systemClock && ns.systemClock {
		v.nonces = ns
	}
	for _, a := range cfg.Authorities {
		if a == "*" {
			v.anyHost = true
		}
		v.authorities[strings.ToLower(a)] = true
	}
	for _, h := range cfg.RequiredHeaders {
		v.required = append(v.required, lower(h))
	}
	for _, h := range v.required {
		v.requiredKey = append(v.requiredKey, http.CanonicalHeaderKey(h))
	}
	return v, nil
}

// RequiresHeader reports whether a signature must cover the header name
// whenever a request carries it (Content-Type and RequiredHeaders).
func (v *Verifier) RequiresHeader(name string) bool { return slices.Contains(v.required, lower(name)) }

// MaxBody returns the verifier's body limit.
func (v *Verifier) MaxBody() int64 { return v.cfg.MaxBody }

// dummySecret stands in for the secret of an unknown key ID, so that the
// MAC is computed either way.
var dummySecret = make([]byte, 64)

// Verify checks the v3 signature of r and returns the credential that
// signed it: its key ID and grant, without its secrets. The grant is the
// caller's own: its slices are shared with nothing else. On success r.Body
// holds exactly the verified bytes, for the handler. In order it refuses:
//   - a request without signature fields ([ErrNoSignature]), or with fields
//     that are not of the profile's shape ([ErrMalformed]);
//   - a non-canonical path ([ErrNonCanonical]);
//   - a signature that does not cover @method, @authority, @path, @query,
//     content-digest (with a body), content-type and the required headers
//     (when present) ([ErrMissingComponent]);
//   - a body over the limit ([ErrBodyTooLarge]), before any MAC work;
//   - created outside the skew, or expires passed ([ErrStale]), judged
//     once the body is read (the clock is read then, once);
//   - a bad MAC, or an unknown, revoked, expired or disabled key ID, at
//     the same cost and with the same error ([ErrInvalidSignature]; the
//     cause is wrapped for the audit log);
//   - a Content-Digest that does not match the body ([ErrDigest]);
//   - a nonce already used with that key ID ([ErrReplayed]). The nonce is
//     recorded only now, after the MAC verified, so bad requests cannot
//     fill the store.
func (v *Verifier) Verify(r *http.Request) (Active, error) {
	var c Active
	if err := v.verify(r, nil, &c.KeyID, &c.Grant); err != nil {
		return Active{}, err
	}
	return c, nil
}

// VerifyLent checks r exactly as [Verifier.Verify] does, and errs as it
// does, but hands over what an authenticating middleware needs without
// copying it:
//   - the grant's slices may share memory with the [Manager]'s cache:
//     treat them as read-only and copy them before modifying;
//   - once it has read the body (also when a later check refused the
//     request), r.Body holds the verified bytes in a buffer lent from a
//     pool, and body is that r.Body (else nil). Call [ReleaseBody] with
//     body once nothing may read it any more, after which its reads fail;
//     without the call the buffer is left to the garbage collector, as
//     Verify's is.
//
// It is the request path of an authenticating middleware, which copies
// the stores it hands to a handler and releases the body when the handler
// has returned (package middleware's, through [Verifier.VerifyLentGrant]);
// use Verify for a grant and a body of your own.
func (v *Verifier) VerifyLent(r *http.Request) (c Active, body io.ReadCloser, err error) {
	var lent *lentBody
	err = v.verify(r, &lent, &c.KeyID, &c.Grant)
	if lent != nil {
		body = lent
	}
	if err != nil {
		return Active{}, body, err
	}
	return c, body, nil
}

// VerifyLentGrant is [Verifier.VerifyLent] for a caller that keeps the
// grant in place: it checks r exactly as VerifyLent does, lends the body
// and the grant's slices as it does, but writes the credential's grant
// into *g and returns its key ID, rather than returning an [Active] by
// value for the caller to copy the grant out of. On an error *g holds
// anything. It is the request path of package middleware.
func (v *Verifier) VerifyLentGrant(r *http.Request, g *keygate.Grant) (keyID string, body io.ReadCloser, err error) {
	var lent *lentBody
	err = v.verify(r, &lent, &keyID, g)
	if lent != nil {
		body = lent
	}
	if err != nil {
		return "", body, err
	}
	return keyID, body, nil
}

// verify is Verify, or VerifyLent when lent is not nil: it then sets *lent
// to the body it lends. It writes the credential's key ID and grant into
// *keyID and *g (in place: the grant is large), which hold anything on an
// error.
func (v *Verifier) verify(r *http.Request, lent **lentBody, keyID *string, g *keygate.Grant) error {
	var macBuf [64]byte
	var si signatureInput
	mac, err := parseSignatureInto(r.Header, macBuf[:0], &si)
	if err != nil {
		return err
	}
	if err := checkProfile(&si); err != nil {
		return err
	}
	t := targetOf(r)
	if !canonicalPath(r.URL.Path, t.path) {
		return ErrNonCanonical
	}
	if a := t.authority; a == "" || !v.anyHost && !v.authorities[a] {
		return ErrMisdirected
	}
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	covered, err := v.checkCoverage(r, &si, hasBody)
	if err != nil {
		return err
	}
	var body []byte
	if lent != nil {
		body, err = v.readLent(r, lent)
	} else {
		body, err = v.readBody(r)
	}
	if err != nil {
		return err
	}
	// The clock is read once, when the body is whole: reading the body
	// takes as long as the client likes, and the request must still be
	// fresh then, so that every nonce is claimed within its signature's
	// window (a replay whose body dripped past the first claim's expiry
	// would otherwise be fresh), and the credential is judged, and the
	// nonce kept, from then on. A reading before the body would refuse
	// nothing more: the MAC is checked only once the body is read, so a
	// sender who wants the body read signs with a fresh created.
	now := v.cfg.Now()
	if d := now.Sub(time.Unix(si.created, 0)); d > v.cfg.Skew || d < -v.cfg.Skew {
		return fmt.Errorf("%w: created", ErrStale)
	}
	if si.expires != 0 && now.Unix() >= si.expires {
		return fmt.Errorf("%w: expires", ErrStale)
	}
	if len(body) > 0 && covered&coversDigest == 0 {
		return fmt.Errorf("%w: content-digest", ErrMissingComponent)
	}
	var baseBuf [512]byte
	var digest []string // Content-Digest's values, once the base has them
	base, err := appendSignatureBase(baseBuf[:0], r, &si, t, &digest)
	if err != nil {
		return err
	}

	// A Manager hands its cached secrets over with their MAC pools (the
	// decoy's for a key ID that may not sign); another source, its
	// plaintexts.
	var keyed []openedSecret
	var secrets [][]byte // another source's
	var lookupErr error
	if v.manager != nil {
		var shared time.Time
		if v.sharedClock {
			shared = now
		}
		keyed, lookupErr = v.manager.lookupShared(r.Context(), si.keyID, shared, keyID, g)
	} else {
		var cred Active
		cred, lookupErr = v.cfg.Credentials.Lookup(r.Context(), si.keyID)
		*keyID, *g, secrets = cred.KeyID, cred.Grant, cred.Secrets
	}
	if lookupErr != nil && !errors.Is(lookupErr, ErrCredentialInvalid) {
		return fmt.Errorf("httpsig: credential lookup: %w", lookupErr)
	}
	ok := false
	switch {
	case keyed != nil:
		for _, o := range keyed {
			ok = o.check(base, mac) || ok
		}
	case lookupErr != nil:
		hmacpool.New(dummySecret).Check(base, mac)
	default:
		for _, secret := range secrets {
			ok = hmacpool.New(secret).Check(base, mac) || ok
		}
	}
	if lookupErr != nil {
		if lookupErr == ErrNotFound {
			// Made once: an unknown key ID allocates no more than a
			// wrong MAC does.
			return errUnknownKeyID
		}
		return errors.Join(ErrInvalidSignature, lookupErr)
	}
	if !ok {
		return ErrInvalidSignature
	}

	if covered&coversDigest != 0 {
		if digest == nil {
			// A canonical key, indexed directly (Values canonicalizes
			// again).
			digest = r.Header["Content-Digest"]
		}
		if err := checkDigest(digest, body); err != nil {
			return err
		}
	}
	// A signature stays acceptable at any reading up to created+skew (at
	// most now+2*skew), but a replay's claim follows its reading by its
	// credential lookup, while other claims sweep the store on later
	// readings: the nonce is kept 2*skew+1 s from the later of now and
	// created, so that it outlives the window by at least skew+1 s, also
	// for a signature made ahead of the server's clock (kept from now
	// alone, such a nonce outlived its window by one second, and a
	// replay judged fresh at its last second whose lookup took longer was
	// accepted: TestReplayAcrossSlowLookup).
	from := now
	if c := time.Unix(si.created, 0); c.After(from) {
		from = c
	}
	expires := from.Add(2*v.cfg.Skew + time.Second)
	var fresh bool
	if v.nonces != nil {
		fresh, err = v.nonces.claimAt(r.Context(), *keyID, si.nonce, expires, now)
	} else {
		fresh, err = v.cfg.Nonces.Claim(r.Context(), *keyID, si.nonce, expires)
	}
	if err != nil {
		return fmt.Errorf("httpsig: nonce store: %w", err)
	}
	if !fresh {
		return ErrReplayed
	}
	if v.manager != nil && lent == nil {
		// The Manager lent its stored grant: the caller gets a copy.
		*g = keygate.CloneGrant(*g)
	}
	return nil
}

// errUnknownKeyID is Verify's error for a key ID that no credential has.
var errUnknownKeyID = errors.Join(ErrInvalidSignature, ErrNotFound)

// Bits of a componentSet: the components the profile requires or
// verify looks for.
const (
	coversMethod componentSet = 1 << iota
	coversAuthority
	coversPath
	coversQuery
	coversDigest
	coversContentType
	coversStoreID
)

// componentSet is a set of the components of the covers bits.
type componentSet uint8

// coverage returns the set of the usual components among components.
func coverage(components []string) componentSet {
	if mask := signerMask(components); mask >= 0 {
		// A list a Signer writes, as the fast path shares it: known.
		return signerCoverage[mask]
	}
	return coverageOf(components)
}

// signerMask returns the index in signerComponents of components when it
// is one of those lists itself (as the fast path shares them), else -1.
func signerMask(components []string) int {
	if len(components) > 0 {
		for mask, l := range signerComponents {
			if &l[0] == &components[0] && len(l) == len(components) {
				return mask
			}
		}
	}
	return -1
}

// signerCoverage is the coverage of each of signerComponents.
var signerCoverage = func() (sets [len(signerComponents)]componentSet) {
	for mask, l := range signerComponents {
		sets[mask] = coverageOf(l)
	}
	return sets
}()

// coverageOf is coverage, worked out.
func coverageOf(components []string) componentSet {
	var set componentSet
	for _, c := range components {
		switch c {
		case "@method":
			set |= coversMethod
		case "@authority":
			set |= coversAuthority
		case "@path":
			set |= coversPath
		case "@query":
			set |= coversQuery
		case "content-digest":
			set |= coversDigest
		case "content-type":
			set |= coversContentType
		case "x-store-id":
			set |= coversStoreID
		}
	}
	return set
}

// covers reports whether the component name is among components, whose
// coverage is set.
func (set componentSet) covers(components []string, name string) bool {
	switch name {
	case "content-type":
		return set&coversContentType != 0
	case "x-store-id":
		return set&coversStoreID != 0
	}
	return slices.Contains(components, name)
}

// checkCoverage applies the profile's required components, and returns
// the coverage of si's.
func (v *Verifier) checkCoverage(r *http.Request, si *signatureInput, hasBody bool) (componentSet, error) {
	set := coverage(si.components)
	for i, c := range [...]string{"@method", "@authority", "@path", "@query"} {
		if set&(1<<i) == 0 {
			return 0, fmt.Errorf("%w: %s", ErrMissingComponent, c)
		}
	}
	if hasBody && set&coversDigest == 0 {
		return 0, fmt.Errorf("%w: %s", ErrMissingComponent, "content-digest")
	}
	for i, h := range v.required {
		// The header is looked up only when the signature leaves it out.
		if !set.covers(si.components, h) && len(r.Header[v.requiredKey[i]]) > 0 {
			return 0, fmt.Errorf("%w: %s", ErrMissingComponent, h)
		}
	}
	return set, nil
}

// readBody reads r's body up to the limit and puts the bytes back.
func (v *Verifier) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := v.readAll(r, nil)
	if err != nil {
		return nil, err
	}
	vb := &verifiedBody{}
	vb.Reset(body)
	r.Body = vb
	return body, nil
}

// readLent is readBody into a buffer of bodyBuffers, put back as a
// lentBody, which it also sets *lent to.
func (v *Verifier) readLent(r *http.Request, lent **lentBody) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	buf := bodyBuffers.Get().(*[]byte)
	body, err := v.readAll(r, (*buf)[:0])
	if err != nil {
		bodyBuffers.Put(buf) // never lent: no reader holds it
		return nil, err
	}
	*buf = body
	*lent = &lentBody{buf: buf}
	r.Body = *lent
	return body, nil
}

// readAll reads and closes r's body up to the limit, appending to body.
func (v *Verifier) readAll(r *http.Request, body []byte) ([]byte, error) {
	if r.ContentLength > v.cfg.MaxBody {
		return nil, ErrBodyTooLarge
	}
	// Size the buffer from Content-Length when it is known, up to 64 KiB:
	// reading then rarely grows it, and a client that announces a large
	// body it does not send cannot make the server reserve it.
	if want := min(max(r.ContentLength, 0), 64<<10) + 1; int64(cap(body)) < want {
		body = make([]byte, 0, want)
	}
	for {
		if len(body) == cap(body) {
			body = slices.Grow(body, 1)
		}
		// Never ask for more than one byte over the limit.
		end := min(int64(cap(body)), v.cfg.MaxBody+1)
		n, err := r.Body.Read(body[len(body):end])
		body = body[:len(body)+n]
		if int64(len(body)) > v.cfg.MaxBody {
			r.Body.Close()
			return nil, ErrBodyTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			r.Body.Close()
			return nil, malformed("the body cannot be read")
		}
	}
	r.Body.Close()
	return body, nil
}

// verifiedBody is the body Verify puts back: the verified bytes.
type verifiedBody struct{ bytes.Reader }

// Close implements io.Closer.
func (*verifiedBody) Close() error { return nil }

// checkDigest checks an RFC 9530 Content-Digest against body: sha-256 is
// required, sha-512 is checked when present, others are ignored.
func checkDigest(values []string, body []byte) error {
	if len(values) == 0 {
		return fmt.Errorf("%w: content-digest", ErrMissingComponent)
	}
	if len(values) == 1 {
		// The canonical form Signer writes: sha-256=:base64:.
		var buf [sha256.Size + 8]byte
		if alg, got, ok := canonicalByteMember(values[0], buf[:0]); ok && alg == "sha-256" {
			sum := sha256.Sum256(body)
			if !hmac.Equal(got, sum[:]) {
				return ErrDigest
			}
			return nil
		}
	}
	d, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return malformed("Content-Digest is not a dictionary")
	}
	seen256 := false
	for _, alg := range d.Names() {
		m, _ := d.Get(alg)
		var expected []byte
		switch alg {
		case "sha-256":
			sum := sha256.Sum256(body)
			expected = sum[:]
		case "sha-512":
			sum := sha512.Sum512(body)
			expected = sum[:]
		default:
			continue // an algorithm v3 does not check
		}
		item, ok := m.(httpsfv.Item)
		got, isBytes := item.Value.([]byte)
		if !ok || !isBytes {
			return malformed("Content-Digest member is not a byte sequence")
		}
		if !hmac.Equal(got, expected) {
			return ErrDigest
		}
		seen256 = seen256 || alg == "sha-256"
	}
	if !seen256 {
		return malformed("Content-Digest needs sha-256")
	}
	return nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
