package httpsig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/keygate/keygate/internal/hmacpool"
)

// TestOpenedSecretCheck checks an opened secret's MAC check, with and
// without its pool (internal/hmacpool tests the states themselves),
// against crypto/hmac, and that a wrong MAC, a truncated one and the MAC
// of another message are refused.
func TestOpenedSecretCheck(t *testing.T) {
	secret := bytes.Repeat([]byte("s3cr3t"), 11)
	pool := hmacpool.NewPool(secret)
	for round := range 3 {
		for _, n := range []int{0, 1, 63, 64, 300, 5000} {
			msg := bytes.Repeat([]byte{byte(n + round)}, n)
			m := hmac.New(sha256.New, secret)
			m.Write(msg)
			want := m.Sum(nil)
			for _, check := range []func([]byte, []byte) bool{openedSecret{plain: secret}.check, openedSecret{plain: secret, macs: pool}.check} {
				if !check(msg, want) {
					t.Fatalf("round %d, %d bytes: the HMAC is refused", round, n)
				}
				bad := bytes.Clone(want)
				bad[len(bad)-1] ^= 1
				if check(msg, bad) || check(msg, want[:len(want)-1]) || check(append(msg, 0), want) {
					t.Fatalf("round %d, %d bytes: a wrong MAC is accepted", round, n)
				}
			}
		}
	}
}
