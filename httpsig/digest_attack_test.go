package httpsig

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestAttackDigestHandedOver: the digest check gets the Content-Digest
// values the signature base covered (a Signer's list hands them over):
// a request whose Content-Digest field lines differ from what was signed
// in any way — a line added or replaced, with the body swapped to match —
// is refused; a field under a non-canonical key (which neither the base
// nor the check reads) changes nothing; the signed request itself, with
// the Content-Digest the Signer wrote, passes.
func TestAttackDigestHandedOver(t *testing.T) {
	secret := bytes.Repeat([]byte{9}, 64)
	clock := func() time.Time { return time.Unix(1767225600, 0) }
	creds := staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}, Secrets: [][]byte{secret}}}
	body, evil := []byte(`{"amount":1}`), []byte(`{"amount":1000000}`)
	sum := sha256.Sum256(evil)
	evilDigest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	for _, tc := range []struct {
		name   string
		tamper func(r *http.Request) []byte // the body sent
		ok     bool
	}{
		{"as signed", func(r *http.Request) []byte { return body }, true},
		{"second line for the swapped body", func(r *http.Request) []byte {
			r.Header.Add("Content-Digest", evilDigest)
			return evil
		}, false},
		{"second line first", func(r *http.Request) []byte {
			r.Header["Content-Digest"] = append([]string{evilDigest}, r.Header["Content-Digest"]...)
			return evil
		}, false},
		{"line replaced", func(r *http.Request) []byte {
			r.Header.Set("Content-Digest", evilDigest)
			return evil
		}, false},
		{"non-canonical key for the swapped body", func(r *http.Request) []byte {
			r.Header["content-digest"] = []string{evilDigest}
			return evil
		}, false},
		{"non-canonical key, body as signed", func(r *http.Request) []byte {
			r.Header["content-digest"] = []string{evilDigest}
			return body
		}, true},
		{"body swapped", func(r *http.Request) []byte { return evil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/orders", nil)
			r.Header.Set("Content-Type", "application/json")
			if err := (&Signer{KeyID: "k1", Secret: secret, Now: clock}).Sign(r, body); err != nil {
				t.Fatal(err)
			}
			sent := tc.tamper(r)
			for _, lent := range []bool{false, true} {
				v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: creds, Now: clock})
				if err != nil {
					t.Fatal(err)
				}
				rr := r.Clone(r.Context())
				rr.Body, rr.ContentLength = io.NopCloser(bytes.NewReader(sent)), int64(len(sent))
				if lent {
					_, b, err2 := v.VerifyLent(rr)
					ReleaseBody(b)
					err = err2
				} else {
					_, err = v.Verify(rr)
				}
				if (err == nil) != tc.ok {
					t.Fatalf("lent %v: %v, want success %v", lent, err, tc.ok)
				}
			}
		})
	}
}
