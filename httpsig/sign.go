package httpsig

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"time"

	"github.com/dunglas/httpsfv"
)

// DefaultLabel is the label of the signatures a [Signer] makes.
const DefaultLabel = "sig1"

// Signer signs outgoing requests with the v3 profile. It covers @method,
// @authority, @path and @query, content-digest when there is a body,
// content-type and the store header when they are present, with the
// parameters created, nonce, keyid and alg.
type Signer struct {
	// KeyID is the credential's public key ID. Required.
	KeyID string
	// Secret is the credential's 64-byte shared secret. Required.
	Secret []byte
	// StoreHeader is covered when present. Empty means "X-Store-Id".
	StoreHeader string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Sign sets Content-Digest (when body is not empty), Signature-Input and
// Signature on r, whose body is body. It replaces any earlier signature.
func (s *Signer) Sign(r *http.Request, body []byte) error {
	if s.KeyID == "" || len(s.Secret) == 0 {
		return errors.New("httpsig: Signer needs a KeyID and a Secret")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	h := r.Header
	h.Del("Signature-Input")
	h.Del("Signature")
	h.Del("Content-Digest")
	components := []string{"@method", "@authority", "@path", "@query"}
	if len(body) > 0 {
		sum := sha256.Sum256(body)
		d := httpsfv.NewDictionary()
		d.Add("sha-256", httpsfv.NewItem(sum[:]))
		v, err := httpsfv.Marshal(d)
		if err != nil {
			return fmt.Errorf("httpsig: Content-Digest: %w", err)
		}
		h.Set("Content-Digest", v)
		components = append(components, "content-digest")
	}
	if len(h.Values("Content-Type")) > 0 { // even empty: the verifier requires what is present
		components = append(components, "content-type")
	}
	store := DefaultStoreHeader
	if s.StoreHeader != "" {
		store = s.StoreHeader
	}
	if len(h.Values(store)) > 0 {
		components = append(components, lower(textproto.CanonicalMIMEHeaderKey(store)))
	}
	items := make([]httpsfv.Item, len(components))
	for i, c := range components {
		items[i] = httpsfv.NewItem(c)
	}
	params := httpsfv.NewParams()
	params.Add("created", now().Unix())
	params.Add("nonce", rand.Text())
	params.Add("keyid", s.KeyID)
	params.Add("alg", Algorithm)
	list := httpsfv.InnerList{Items: items, Params: params}
	serialized, err := httpsfv.Marshal(httpsfv.List{list})
	if err != nil {
		return fmt.Errorf("httpsig: Signature-Input: %w", err)
	}
	si := signatureInput{label: DefaultLabel, components: components, params: serialized}
	base, err := signatureBase(r, si)
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, s.Secret)
	m.Write([]byte(base))
	input := httpsfv.NewDictionary()
	input.Add(DefaultLabel, list)
	sig := httpsfv.NewDictionary()
	sig.Add(DefaultLabel, httpsfv.NewItem(m.Sum(nil)))
	inputValue, err := httpsfv.Marshal(input)
	if err != nil {
		return fmt.Errorf("httpsig: Signature-Input: %w", err)
	}
	sigValue, err := httpsfv.Marshal(sig)
	if err != nil {
		return fmt.Errorf("httpsig: Signature: %w", err)
	}
	h.Set("Signature-Input", inputValue)
	h.Set("Signature", sigValue)
	return nil
}

// Transport is an http.RoundTripper that signs every request with Signer
// before passing it to Base, in the style of golang.org/x/oauth2.Transport.
type Transport struct {
	// Signer signs. Required.
	Signer *Signer
	// Base sends the signed request. Nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip signs a clone of req (the caller's request is not modified)
// and sends it. The body is buffered to compute its digest.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("httpsig: read request body: %w", err)
		}
	}
	out := req.Clone(req.Context())
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if err := t.Signer.Sign(out, body); err != nil {
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}
