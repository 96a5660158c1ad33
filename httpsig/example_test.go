package httpsig_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
)

// oneCredential is a CredentialSource with a single credential; a real
// server uses [httpsig.Manager].
type oneCredential httpsig.Active

func (c oneCredential) Lookup(_ context.Context, keyID string) (httpsig.Active, error) {
	if keyID != c.KeyID {
		return httpsig.Active{}, httpsig.ErrNotFound
	}
	return httpsig.Active(c), nil
}

var exampleSecret = bytes.Repeat([]byte{0x2a}, 64)

// Sign a request by hand: Sign adds Content-Digest, Signature-Input and
// Signature. The nonce is random; it is masked here.
func ExampleSigner_Sign() {
	body := []byte(`{"amount":4200}`)
	req, _ := http.NewRequest("POST", "https://api.example.com/v1/orders?notify=1", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Store-Id", "store_1")

	s := &httpsig.Signer{KeyID: "hk_test_123", Secret: exampleSecret, Now: func() time.Time { return time.Unix(1767225600, 0) }}
	if err := s.Sign(req, body); err != nil {
		panic(err)
	}
	nonce := regexp.MustCompile(`nonce="[^"]+"`)
	fmt.Println("Content-Digest:", req.Header.Get("Content-Digest"))
	fmt.Println("Signature-Input:", nonce.ReplaceAllString(req.Header.Get("Signature-Input"), `nonce="..."`))
	fmt.Println("Signature:", strings.HasPrefix(req.Header.Get("Signature"), "sig1=:"))
	// Output:
	// Content-Digest: sha-256=:xqaDGsGr0C0VwznTRRTHohcb32H4h2IHXor23bcHZMg=:
	// Signature-Input: sig1=("@method" "@authority" "@path" "@query" "content-digest" "content-type" "x-store-id");created=1767225600;nonce="...";keyid="hk_test_123";alg="hmac-sha256"
	// Signature: true
}

// Sign every request of an http.Client with a Transport, and verify them
// on the server with a Verifier: a replay is refused.
func ExampleTransport() {
	v, _ := httpsig.NewVerifier(httpsig.VerifierConfig{
		Authorities: httpsig.AnyAuthority,
		Credentials: oneCredential{KeyID: "hk_test_123", Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest}, Secrets: [][]byte{exampleSecret}},
	})
	var last *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = r.Clone(r.Context())
		a, err := v.Verify(r)
		switch {
		case errors.Is(err, httpsig.ErrReplayed):
			http.Error(w, "replayed", http.StatusUnauthorized)
			return
		case errors.Is(err, httpsig.ErrRequestInvalid):
			http.Error(w, "invalid_signature", http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, "temporarily_unavailable", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s sent %s", a.Account, body)
	}))
	defer srv.Close()

	client := &http.Client{Transport: &httpsig.Transport{Signer: &httpsig.Signer{KeyID: "hk_test_123", Secret: exampleSecret}}}
	res, err := client.Post(srv.URL+"/v1/echo", "application/json", strings.NewReader(`{"hello":"world"}`))
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(b))

	// The same signed request again, sent by a plain client.
	replay, _ := http.NewRequest("POST", srv.URL+"/v1/echo", strings.NewReader(`{"hello":"world"}`))
	for _, h := range []string{"Content-Type", "Content-Digest", "Signature-Input", "Signature"} {
		replay.Header.Set(h, last.Header.Get(h))
	}
	res, err = http.DefaultClient.Do(replay)
	if err != nil {
		panic(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Print(res.StatusCode, " ", string(b))
	// Output:
	// 200 acct_42 sent {"hello":"world"}
	// 401 replayed
}

// Tell verification errors apart with errors.Is: every rejection wraps
// ErrRequestInvalid (anything else is a store failure, or no signature at
// all); an unknown, revoked, expired or disabled key ID is an
// ErrInvalidSignature, as a bad MAC is, that also wraps
// ErrCredentialInvalid, for the audit log.
func ExampleVerifier_Verify_errors() {
	v, _ := httpsig.NewVerifier(httpsig.VerifierConfig{
		Authorities: httpsig.AnyAuthority,
		Credentials: oneCredential{KeyID: "hk_test_123", Grant: keygate.Grant{Account: "acct_42", Mode: keygate.ModeTest}, Secrets: [][]byte{exampleSecret}},
	})
	sign := func(keyID string, secret []byte, target string) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		s := &httpsig.Signer{KeyID: keyID, Secret: secret}
		if err := s.Sign(r, nil); err != nil {
			panic(err)
		}
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
	}{
		{"valid", sign("hk_test_123", exampleSecret, "/v1/orders")},
		{"bad MAC", sign("hk_test_123", bytes.Repeat([]byte{1}, 64), "/v1/orders")},
		{"unknown key ID", sign("hk_test_unknown", exampleSecret, "/v1/orders")},
		{"non-canonical", sign("hk_test_123", exampleSecret, "/v1/x/../orders")},
		{"unsigned", httptest.NewRequest("GET", "/v1/orders", nil)},
	} {
		_, err := v.Verify(c.r)
		fmt.Printf("%-15s rejected=%-5t credential=%-5t invalid_signature=%-5t unsigned=%t\n", c.name,
			errors.Is(err, httpsig.ErrRequestInvalid), errors.Is(err, httpsig.ErrCredentialInvalid),
			errors.Is(err, httpsig.ErrInvalidSignature), errors.Is(err, httpsig.ErrNoSignature))
	}
	// Output:
	// valid           rejected=false credential=false invalid_signature=false unsigned=false
	// bad MAC         rejected=true  credential=false invalid_signature=true  unsigned=false
	// unknown key ID  rejected=true  credential=true  invalid_signature=true  unsigned=false
	// non-canonical   rejected=true  credential=false invalid_signature=false unsigned=false
	// unsigned        rejected=false credential=false invalid_signature=false unsigned=true
}
