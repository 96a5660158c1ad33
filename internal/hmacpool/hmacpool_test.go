package hmacpool

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// TestMatchesHMAC checks pooled and single States against crypto/hmac
// over messages of several lengths, reused in turn, and that a wrong tag,
// a truncated one and the tag of another message are refused.
func TestMatchesHMAC(t *testing.T) {
	secret := bytes.Repeat([]byte("s3cr3t"), 11)
	pool := NewPool(secret)
	state := New(secret)
	for round := range 3 {
		for _, n := range []int{0, 1, 63, 64, 300, maxKeptMsg, maxKeptMsg + 1, 3 * maxKeptMsg} {
			msg := bytes.Repeat([]byte{byte(n + round)}, n)
			m := hmac.New(sha256.New, secret)
			m.Write(msg)
			want := m.Sum(nil)
			for _, check := range []func([]byte, []byte) bool{pool.Check, state.Check, New(secret).Check} {
				if !check(msg, want) {
					t.Fatalf("round %d, %d bytes: the HMAC is refused", round, n)
				}
				bad := bytes.Clone(want)
				bad[len(bad)-1] ^= 1
				if check(msg, bad) || check(msg, want[:len(want)-1]) || check(append(msg, 0), want) {
					t.Fatalf("round %d, %d bytes: a wrong tag is accepted", round, n)
				}
			}
		}
	}
	// Another secret's tag is refused.
	other := NewPool(bytes.Repeat([]byte("other!"), 11))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("msg"))
	if other.Check([]byte("msg"), m.Sum(nil)) {
		t.Fatal("a tag under another secret is accepted")
	}
}
