package admin

import (
	"crypto/sha256"
	"net/http"
	"strconv"
)

// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted.
const MaxIdempotencyKeyLen = 255

// idempotencyKey returns the request's Idempotency-Key header, and
// whether it has one. It must be 1 to 255 printable ASCII characters, and
// appear once.
func idempotencyKey(h http.Header) (string, bool, error) {
	vs := h.Values("Idempotency-Key")
	switch {
	case len(vs) == 0:
		return "", false, nil
	case len(vs) > 1:
		return "", false, invalidRequest("send at most one Idempotency-Key header")
	}
	k := vs[0]
	if k == "" || len(k) > MaxIdempotencyKeyLen {
		return "", false, invalidRequest("the Idempotency-Key must be 1 to 255 printable ASCII characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", false, invalidRequest("the Idempotency-Key must be 1 to 255 printable ASCII characters")
		}
	}
	return k, true, nil
}

// scopedKey is the store key of an Idempotency-Key sent by caller: the
// length prefix keeps callers apart whatever their IDs hold.
func scopedKey(caller, key string) string {
	return strconv.Itoa(len(caller)) + ":" + caller + ":" + key
}

// fingerprint identifies a request for idempotency: its method, escaped
// path and body.
func fingerprint(r *http.Request, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(r.Method))
	h.Write([]byte{0})
	h.Write([]byte(r.URL.EscapedPath()))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}
