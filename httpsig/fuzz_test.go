package httpsig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"

	"github.com/keygate/keygate"
)

// The fuzz targets feed arbitrary signature fields to the verification
// path. Run them with
//
//	go test ./httpsig -run '^$' -fuzz FuzzVerify -fuzztime 20s
//	go test ./httpsig -run '^$' -fuzz FuzzParseSignature -fuzztime 20s

// fzSecret is the secret of key "k1" in FuzzVerify.
var fzSecret = bytes.Repeat([]byte{0x42}, 64)

// The fixed request of FuzzVerify.
const (
	fzMethod      = "POST"
	fzURL         = "https://api.example.com/v1/orders?x=1"
	fzContentType = "application/json"
)

// fzRequest is the fixed request with the fuzzed fields and body.
func fzRequest(input, sig, digest string, body []byte) *http.Request {
	r := httptest.NewRequest(fzMethod, fzURL, bytes.NewReader(body))
	r.Header.Set("Content-Type", fzContentType)
	for name, v := range map[string]string{"Signature-Input": input, "Signature": sig, "Content-Digest": digest} {
		for _, line := range strings.Split(v, "\n") {
			if line != "" {
				r.Header.Add(name, line)
			}
		}
	}
	return r
}

// fzSeed signs the fixed request with body, the v3 way.
func fzSeed(body []byte, created int64, nonce string) (input, sig, digest string) {
	r := httptest.NewRequest(fzMethod, fzURL, bytes.NewReader(body))
	r.Header.Set("Content-Type", fzContentType)
	if _, err := tvSign(r, body, "k1", fzSecret, created, nonce); err != nil {
		panic(err)
	}
	return r.Header.Get("Signature-Input"), r.Header.Get("Signature"), r.Header.Get("Content-Digest")
}

// fzComponent derives a component of the fixed request independently of
// base.go: the oracle of FuzzVerify.
func fzComponent(name string, r *http.Request) (string, bool) {
	switch name {
	case "@method":
		return fzMethod, true
	case "@authority", "host":
		return "api.example.com", true
	case "@path":
		return "/v1/orders", true
	case "@query":
		return "?x=1", true
	case "@scheme":
		return "https", true
	case "content-type":
		return fzContentType, true
	}
	if vs := r.Header.Values(name); len(vs) == 1 && name == strings.ToLower(name) && !strings.HasPrefix(name, "@") {
		return strings.TrimSpace(vs[0]), true
	}
	return "", false
}

func FuzzVerify(f *testing.F) {
	const now = tvCreated
	body := []byte(`{"amount":4200}`)
	in, sig, dig := fzSeed(body, now, "NONCE0")
	f.Add(in, sig, dig, body)
	f.Add(in, sig, dig, []byte(`{"amount":4201}`))
	in2, sig2, _ := fzSeed(nil, now-299, "NONCE1")
	f.Add(in2, sig2, "", []byte{})
	f.Add(strings.Replace(in, `"@method" `, ``, 1), sig, dig, body)
	f.Add(in, "sig1=::", dig, body)
	f.Add(in+", sig2=()", sig, dig, body)
	f.Add(in, sig, dig+", sha-512=:AAAA:", body)
	f.Add(rfcInput, rfcSignature, rfcDigest, []byte(`{"hello": "world"}`))
	f.Add(`sig1=("@method" "@authority" "@path" "@query" "content-type");created=1767225600;nonce="a";keyid="k1";alg="hmac-sha256";expires=1767225601`, "sig1=:AAAA:", "", []byte{})
	f.Add("", "", "", []byte{})
	f.Add("%%%", "sig1=:", "sha-256=:", []byte("x"))

	creds := staticCredentials{"k1": {KeyID: "k1", Grant: keygate.Grant{Account: "acct_fuzz", Mode: keygate.ModeTest}, Secrets: [][]byte{fzSecret}}}
	clock := func() time.Time { return time.Unix(now, 0) }
	f.Fuzz(func(t *testing.T, input, sig, digest string, body []byte) {
		v, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: creds, Now: clock, Nonces: NewMemoryNonceStore(MemoryNonceConfig{Now: clock}), MaxBody: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		r := fzRequest(input, sig, digest, body)
		a, err := v.Verify(r)
		// VerifyLent, on a verifier of its own, decides alike and lends
		// the same bytes, until they are released.
		lv, lerr := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: creds, Now: clock, Nonces: NewMemoryNonceStore(MemoryNonceConfig{Now: clock}), MaxBody: 4 << 10})
		if lerr != nil {
			t.Fatal(lerr)
		}
		lr := fzRequest(input, sig, digest, body)
		la, lent, lerr := lv.VerifyLent(lr)
		if (err == nil) != (lerr == nil) || err != nil && err.Error() != lerr.Error() || !reflect.DeepEqual(a, la) {
			t.Fatalf("Verify %+v, %v; VerifyLent %+v, %v", a, err, la, lerr)
		}
		// VerifyLentGrant too, with the grant written in place (over a
		// grant that held something else).
		gv, gerr := NewVerifier(VerifierConfig{Authorities: AnyAuthority, Credentials: creds, Now: clock, Nonces: NewMemoryNonceStore(MemoryNonceConfig{Now: clock}), MaxBody: 4 << 10})
		if gerr != nil {
			t.Fatal(gerr)
		}
		g := keygate.Grant{Account: "acct_other", Stores: []string{"store_other"}}
		gid, glent, gerr := gv.VerifyLentGrant(fzRequest(input, sig, digest, body), &g)
		if (err == nil) != (gerr == nil) || err != nil && err.Error() != gerr.Error() || (lent == nil) != (glent == nil) ||
			err == nil && (gid != la.KeyID || !reflect.DeepEqual(g, la.Grant)) || err != nil && gid != "" {
			t.Fatalf("VerifyLent %+v, %v; VerifyLentGrant %q %+v, %v", la, lerr, gid, g, gerr)
		}
		ReleaseBody(glent)
		if lent != nil {
			if lr.Body != lent {
				t.Fatal("VerifyLent returned a body other than the request's")
			}
			if got, _ := io.ReadAll(lr.Body); !bytes.Equal(got, body) {
				t.Fatalf("VerifyLent lent %q, not %q", got, body)
			}
			ReleaseBody(lent)
			if n, rerr := lr.Body.Read(make([]byte, 1)); n != 0 || !errors.Is(rerr, errBodyReleased) {
				t.Fatalf("a released body read %d, %v", n, rerr)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrRequestInvalid) && !errors.Is(err, ErrNoSignature) {
				t.Fatalf("a bad request must be a rejection, got %v", err)
			}
			if errors.Is(err, ErrReplayed) {
				t.Fatalf("a fresh nonce store reported a replay: %v", err)
			}
			return
		}

		// Accepted: the fields must be those of a validly signed request.
		if a.KeyID != "k1" || a.Account != "acct_fuzz" {
			t.Fatalf("accepted for %+v", a)
		}
		si, mac, err := parseSignature(r.Header)
		if err != nil {
			t.Fatalf("accepted fields that do not parse: %v", err)
		}
		for _, c := range []string{"@method", "@authority", "@path", "@query", "content-type"} {
			if !slices.Contains(si.components, c) {
				t.Fatalf("accepted without %s: %q", c, input)
			}
		}
		if len(body) > 0 && !slices.Contains(si.components, "content-digest") {
			t.Fatalf("accepted a body without content-digest: %q", input)
		}
		if si.keyID != "k1" || si.nonce == "" || si.created < now-300 || si.created > now+300 {
			t.Fatalf("accepted parameters %+v", si)
		}
		if si.alg != "" && si.alg != Algorithm {
			t.Fatalf("accepted alg %q", si.alg)
		}
		if si.expires != 0 && si.expires <= now {
			t.Fatalf("accepted expires %d", si.expires)
		}
		var b strings.Builder
		for _, c := range si.components {
			value, ok := fzComponent(c, r)
			if !ok {
				t.Fatalf("accepted a component the request cannot have: %q", c)
			}
			b.WriteString(`"` + c + `": ` + value + "\n")
		}
		b.WriteString(`"@signature-params": ` + si.params)
		m := hmac.New(sha256.New, fzSecret)
		m.Write([]byte(b.String()))
		if !hmac.Equal(m.Sum(nil), mac) {
			t.Fatalf("accepted a MAC that does not recompute over\n%s", b.String())
		}
		if slices.Contains(si.components, "content-digest") {
			d, err := httpsfv.UnmarshalDictionary(r.Header.Values("Content-Digest"))
			if err != nil {
				t.Fatalf("accepted an unparseable Content-Digest %q", digest)
			}
			m, ok := d.Get("sha-256")
			sum := sha256.Sum256(body)
			if !ok || !bytes.Equal(m.(httpsfv.Item).Value.([]byte), sum[:]) {
				t.Fatalf("accepted a Content-Digest %q that is not the body's", digest)
			}
		}
		got := new(bytes.Buffer)
		got.ReadFrom(r.Body)
		if !bytes.Equal(got.Bytes(), body) {
			t.Fatalf("the handler would read %q, not the verified %q", got.Bytes(), body)
		}
		// And once only.
		if _, err := v.Verify(fzRequest(input, sig, digest, body)); !errors.Is(err, ErrReplayed) {
			t.Fatalf("a replay gave %v", err)
		}
	})
}

func FuzzParseSignature(f *testing.F) {
	in, sig, _ := fzSeed([]byte("x"), tvCreated, "N")
	f.Add(in, sig)
	f.Add(rfcInput, rfcSignature)
	f.Add(`sig1=("@method";req "x");created=1;nonce=?1;keyid=k`, `sig1=:AAAA:`)
	f.Add("a=(), b=()", "a=::, b=::")
	f.Add("sig1=(\"a\")\nsig1=(\"b\")", "sig1=::\nsig1=:AAAA:")
	f.Add(`sig1=("@method");created=1;expires=-1;alg="x";tag="t";foo=1.5`, `sig1=:AA==:`)
	f.Add("", "")
	target := httptest.NewRequest(fzMethod, fzURL, nil)
	f.Fuzz(func(t *testing.T, input, sig string) {
		h := http.Header{}
		for _, line := range strings.Split(input, "\n") {
			h.Add("Signature-Input", line)
		}
		for _, line := range strings.Split(sig, "\n") {
			h.Add("Signature", line)
		}
		si, mac, err := parseSignature(h)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoSignature) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if si.label == "" || mac == nil {
			t.Fatalf("parsed without a label or a MAC: %+v", si)
		}
		seen := map[string]bool{}
		for _, c := range si.components {
			if c == "" || seen[c] {
				t.Fatalf("components %q", si.components)
			}
			seen[c] = true
		}
		if len(si.nonce) > 128 || len(si.keyID) > 128 || si.expires < 0 {
			t.Fatalf("parameters out of bounds: %+v", si)
		}
		// @signature-params is a canonical serialization: it parses back to
		// itself, and as the member of a dictionary under the label.
		l, err := httpsfv.UnmarshalList([]string{si.params})
		if err != nil || len(l) != 1 {
			t.Fatalf("@signature-params %q does not parse: %v", si.params, err)
		}
		again, err := httpsfv.Marshal(l)
		if err != nil || again != si.params {
			t.Fatalf("@signature-params %q re-serializes as %q (%v)", si.params, again, err)
		}
		d, err := httpsfv.UnmarshalDictionary([]string{si.label + "=" + si.params})
		if err != nil || len(d.Names()) != 1 {
			t.Fatalf("label %q with %q: %v", si.label, si.params, err)
		}
		_ = checkProfile(&si)
		_, _ = signatureBase(target, si)
	})
}
