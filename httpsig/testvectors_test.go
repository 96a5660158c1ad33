package httpsig

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// The published test vectors of profile v3 live in testdata/v3, one JSON
// file each, for implementations in other languages. They are generated
// by this file with a fixed clock and fixed nonces:
//
//	go test ./httpsig -run TestVectors -update-vectors
//
// and checked on every test run: regenerated in memory (so that they
// cannot drift from the code) and verified by the Verifier.

var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/v3 from the vector definitions")

// tvSecret is the shared secret of every vector: SHA-512 of a fixed phrase,
// 64 bytes as the profile requires.
var tvSecret = func() []byte {
	s := sha512.Sum512([]byte("keygate hmac v3 test vector secret"))
	return s[:]
}()

// tvCreated is the created time of every vector: 2026-01-01T00:00:00Z.
const tvCreated = 1767225600

// tvKeyID is the key ID of every vector.
const tvKeyID = "hk_test_vectors"

// tvHeader is one request header, in order.
type tvHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// tvRequest is the request before signing.
type tvRequest struct {
	Method  string     `json:"method"`
	URL     string     `json:"url"`
	Headers []tvHeader `json:"headers"`
	Body    string     `json:"body"`
}

// tvExpected is what a v3 signer must produce for the request.
type tvExpected struct {
	// ContentDigest is the Content-Digest header, absent without a body.
	ContentDigest string `json:"content_digest,omitempty"`
	// SignatureBase is the RFC 9421 §2.5 signature base, lines joined by
	// LF, no trailing LF.
	SignatureBase string `json:"signature_base"`
	// SignatureInput and Signature are the header values.
	SignatureInput string `json:"signature_input"`
	Signature      string `json:"signature"`
	// MACBase64 is HMAC-SHA256(secret, signature_base), base64.
	MACBase64 string `json:"mac_base64"`
}

// tvVector is one published vector.
type tvVector struct {
	Name         string     `json:"name"`
	Description  string     `json:"description"`
	Profile      string     `json:"profile"`
	SecretBase64 string     `json:"secret_base64"`
	KeyID        string     `json:"keyid"`
	Created      int64      `json:"created"`
	Nonce        string     `json:"nonce"`
	Label        string     `json:"label"`
	Request      tvRequest  `json:"request"`
	Expected     tvExpected `json:"expected"`
}

// tvDefinitions are the vectors' inputs.
func tvDefinitions() []tvVector {
	def := func(name, desc, nonce string, req tvRequest) tvVector {
		return tvVector{
			Name: name, Description: desc, Profile: "keygate-hmac-v3",
			SecretBase64: base64.StdEncoding.EncodeToString(tvSecret),
			KeyID:        tvKeyID, Created: tvCreated, Nonce: nonce, Label: DefaultLabel,
			Request: req,
		}
	}
	return []tvVector{
		def("get-query", "GET with a query and no body: no Content-Digest, no content-digest component; @query keeps the parameters in the order sent.",
			"NBSWY3DPEB3W64TMMQQGK6DB2Q",
			tvRequest{Method: "GET", URL: "https://api.example.com/v1/orders?status=open&limit=10"}),
		def("post-json", "POST with a JSON body: Content-Digest (sha-256) over the exact body bytes, covered with content-type.",
			"MFRGGZDFMZTWQ2LKNNWG23TPOA",
			tvRequest{Method: "POST", URL: "https://api.example.com/v1/orders", Headers: []tvHeader{{"Content-Type", "application/json"}},
				Body: `{"amount":4200,"currency":"EUR","items":[{"sku":"A-1","qty":2}]}`}),
		def("post-store", "POST with the store header: x-store-id is covered, after content-digest and content-type.",
			"ONSWG4TFOQQGC3TEEBXG63TDMU",
			tvRequest{Method: "POST", URL: "https://api.example.com/v1/refunds?notify=true", Headers: []tvHeader{{"Content-Type", "application/json"}, {"X-Store-Id", "store_1"}},
				Body: `{"order":"ord_123","amount":1500}`}),
		def("post-echo-port", "POST over plain HTTP to a non-default port, as to the reference server: @authority keeps the port.",
			"GEZDGNBVGY3TQOJQGEZDGNBVGY",
			tvRequest{Method: "POST", URL: "http://127.0.0.1:8080/v1/echo", Headers: []tvHeader{{"Content-Type", "text/plain; charset=utf-8"}},
				Body: "hello, keygate\n"}),
	}
}

// tvSign signs r, whose body is body, exactly as [Signer.Sign] does (the
// same components in the same order, the same parameters in the same
// order, signatureBase and httpsfv), with a fixed created and nonce:
// Signer draws its nonce from crypto/rand and has no hook to fix it.
// TestTVSignMatchesSigner checks that the two agree.
func tvSign(r *http.Request, body []byte, keyID string, secret []byte, created int64, nonce string) (string, error) {
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
			return "", err
		}
		h.Set("Content-Digest", v)
		components = append(components, "content-digest")
	}
	if h.Get("Content-Type") != "" {
		components = append(components, "content-type")
	}
	if h.Get(DefaultStoreHeader) != "" {
		components = append(components, lower(textproto.CanonicalMIMEHeaderKey(DefaultStoreHeader)))
	}
	items := make([]httpsfv.Item, len(components))
	for i, c := range components {
		items[i] = httpsfv.NewItem(c)
	}
	params := httpsfv.NewParams()
	params.Add("created", created)
	params.Add("nonce", nonce)
	params.Add("keyid", keyID)
	params.Add("alg", Algorithm)
	list := httpsfv.InnerList{Items: items, Params: params}
	serialized, err := httpsfv.Marshal(httpsfv.List{list})
	if err != nil {
		return "", err
	}
	base, err := signatureBase(r, signatureInput{label: DefaultLabel, components: components, params: serialized})
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(base))
	input := httpsfv.NewDictionary()
	input.Add(DefaultLabel, list)
	sig := httpsfv.NewDictionary()
	sig.Add(DefaultLabel, httpsfv.NewItem(m.Sum(nil)))
	inputValue, err := httpsfv.Marshal(input)
	if err != nil {
		return "", err
	}
	sigValue, err := httpsfv.Marshal(sig)
	if err != nil {
		return "", err
	}
	h.Set("Signature-Input", inputValue)
	h.Set("Signature", sigValue)
	return base, nil
}

// tvClientRequest builds the vector's request as a client would send it.
func tvClientRequest(t testing.TB, req tvRequest) *http.Request {
	t.Helper()
	var body io.Reader = http.NoBody
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	r, err := http.NewRequest(req.Method, req.URL, body)
	require.NoError(t, err)
	for _, h := range req.Headers {
		r.Header.Add(h.Name, h.Value)
	}
	return r
}

// tvGenerate computes a vector's expected values from its inputs.
func tvGenerate(t testing.TB, v tvVector) tvVector {
	t.Helper()
	r := tvClientRequest(t, v.Request)
	secret, err := base64.StdEncoding.DecodeString(v.SecretBase64)
	require.NoError(t, err)
	base, err := tvSign(r, []byte(v.Request.Body), v.KeyID, secret, v.Created, v.Nonce)
	require.NoError(t, err)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(base))
	v.Expected = tvExpected{
		ContentDigest:  r.Header.Get("Content-Digest"),
		SignatureBase:  base,
		SignatureInput: r.Header.Get("Signature-Input"),
		Signature:      r.Header.Get("Signature"),
		MACBase64:      base64.StdEncoding.EncodeToString(m.Sum(nil)),
	}
	return v
}

func tvMarshal(t testing.TB, v tvVector) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}

const tvDir = "testdata/v3"

// TestVectorsUpToDate: the files are exactly what the code generates.
func TestVectorsUpToDate(t *testing.T) {
	if *updateVectors {
		require.NoError(t, os.MkdirAll(tvDir, 0o755))
	}
	for _, def := range tvDefinitions() {
		want := tvMarshal(t, tvGenerate(t, def))
		path := filepath.Join(tvDir, def.Name+".json")
		if *updateVectors {
			require.NoError(t, os.WriteFile(path, want, 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./httpsig -run TestVectors -update-vectors")
		assert.Equal(t, string(want), string(got), "%s is stale: run go test ./httpsig -run TestVectors -update-vectors", path)
	}
}

// tvLoad reads every published vector.
func tvLoad(t testing.TB) []tvVector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(tvDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3)
	var vs []tvVector
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var v tvVector
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&v), f)
		vs = append(vs, v)
	}
	return vs
}

// tvServerRequest is the signed vector as a server receives it: parsed
// from the bytes on the wire.
func tvServerRequest(t testing.TB, v tvVector) *http.Request {
	t.Helper()
	r := tvClientRequest(t, v.Request)
	if v.Expected.ContentDigest != "" {
		r.Header.Set("Content-Digest", v.Expected.ContentDigest)
	}
	r.Header.Set("Signature-Input", v.Expected.SignatureInput)
	r.Header.Set("Signature", v.Expected.Signature)
	var raw bytes.Buffer
	require.NoError(t, r.Write(&raw))
	sr, err := http.ReadRequest(bufio.NewReader(&raw))
	require.NoError(t, err)
	if r.URL.Scheme == "https" {
		sr.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	return sr
}

// tvVerifier verifies at the vector's created time, plus offset.
func tvVerifier(t testing.TB, v tvVector, offset time.Duration) *Verifier {
	t.Helper()
	secret, err := base64.StdEncoding.DecodeString(v.SecretBase64)
	require.NoError(t, err)
	now := func() time.Time { return time.Unix(v.Created, 0).Add(offset) }
	ver, err := NewVerifier(VerifierConfig{Authorities: AnyAuthority,
		Credentials: staticCredentials{v.KeyID: {KeyID: v.KeyID, Grant: keygate.Grant{Account: "acct_vectors", Mode: keygate.ModeTest}, Secrets: [][]byte{secret}}},
		Nonces:      NewMemoryNonceStore(MemoryNonceConfig{Now: now}),
		Now:         now,
	})
	require.NoError(t, err)
	return ver
}

// TestVectors: each published vector verifies, byte for byte.
func TestVectors(t *testing.T) {
	for _, v := range tvLoad(t) {
		t.Run(v.Name, func(t *testing.T) {
			secret, err := base64.StdEncoding.DecodeString(v.SecretBase64)
			require.NoError(t, err)
			require.Len(t, secret, 64)

			// The digest is RFC 9530's over the exact body.
			if v.Request.Body == "" {
				assert.Empty(t, v.Expected.ContentDigest)
			} else {
				sum := sha256.Sum256([]byte(v.Request.Body))
				assert.Equal(t, "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":", v.Expected.ContentDigest)
			}

			// The MAC is HMAC-SHA256 of the published base.
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(v.Expected.SignatureBase))
			assert.Equal(t, v.Expected.MACBase64, base64.StdEncoding.EncodeToString(m.Sum(nil)))
			assert.Equal(t, DefaultLabel+"=:"+v.Expected.MACBase64+":", v.Expected.Signature)

			// The server derives the same base from the request it receives.
			r := tvServerRequest(t, v)
			si, mac, err := parseSignature(r.Header)
			require.NoError(t, err)
			base, err := signatureBase(r, si)
			require.NoError(t, err)
			assert.Equal(t, v.Expected.SignatureBase, base, "signature base, byte for byte")
			assert.Equal(t, v.Expected.MACBase64, base64.StdEncoding.EncodeToString(mac))
			assert.False(t, strings.HasSuffix(base, "\n"))

			// The Verifier accepts it at created and within the skew, once.
			for _, offset := range []time.Duration{0, DefaultSkew, -DefaultSkew} {
				a, err := tvVerifier(t, v, offset).Verify(tvServerRequest(t, v))
				require.NoError(t, err, "offset %v", offset)
				assert.Equal(t, v.KeyID, a.KeyID)
			}
			ver := tvVerifier(t, v, time.Second)
			r = tvServerRequest(t, v)
			_, err = ver.Verify(r)
			require.NoError(t, err)
			got, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			assert.Equal(t, v.Request.Body, string(got), "the handler reads the verified body")
			_, err = ver.Verify(tvServerRequest(t, v))
			assert.ErrorIs(t, err, ErrReplayed)

			// And refuses it outside the skew.
			_, err = tvVerifier(t, v, DefaultSkew+time.Second).Verify(tvServerRequest(t, v))
			assert.ErrorIs(t, err, ErrStale)
		})
	}
}

// TestTVSignMatchesSigner: tvSign, which the vectors are made with, is
// Signer.Sign with the nonce fixed.
func TestTVSignMatchesSigner(t *testing.T) {
	for _, def := range tvDefinitions() {
		t.Run(def.Name, func(t *testing.T) {
			r := tvClientRequest(t, def.Request)
			s := &Signer{KeyID: tvKeyID, Secret: tvSecret, Now: func() time.Time { return time.Unix(tvCreated, 0) }}
			require.NoError(t, s.Sign(r, []byte(def.Request.Body)))
			si, _, err := parseSignature(r.Header)
			require.NoError(t, err)

			r2 := tvClientRequest(t, def.Request)
			_, err = tvSign(r2, []byte(def.Request.Body), tvKeyID, tvSecret, tvCreated, si.nonce)
			require.NoError(t, err)
			for _, h := range []string{"Content-Digest", "Signature-Input", "Signature"} {
				assert.Equal(t, r.Header.Values(h), r2.Header.Values(h), h)
			}
			assert.Equal(t, r.Header, r2.Header)
		})
	}
}

// TestVectorsSpecExample: SPEC.md's worked example is the post-store
// vector, verbatim.
func TestVectorsSpecExample(t *testing.T) {
	spec, err := os.ReadFile("SPEC.md")
	require.NoError(t, err)
	var v tvVector
	for _, x := range tvLoad(t) {
		if x.Name == "post-store" {
			v = x
		}
	}
	require.Equal(t, "post-store", v.Name)
	for _, want := range []string{
		v.Expected.SignatureBase,
		"Content-Digest: " + v.Expected.ContentDigest,
		"Signature-Input: " + v.Expected.SignatureInput,
		"Signature: " + v.Expected.Signature,
		v.SecretBase64,
		v.Request.Body,
		v.Expected.MACBase64,
		v.Nonce,
	} {
		assert.True(t, strings.Contains(string(spec), want), "SPEC.md lacks %q", want)
	}
}
