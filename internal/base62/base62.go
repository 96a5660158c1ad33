// Package base62 draws random identifiers and secrets from the base62
// alphabet (0-9, A-Z, a-z), shared by the packages that mint them (API
// keys, HMAC credentials, accounts).
package base62

import "crypto/rand"

// Alphabet is the base62 alphabet, in the order of the digits' values.
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Fill fills dst with characters drawn uniformly from [Alphabet] with
// crypto/rand: rejection sampling drops the bytes 248 and above, so that
// every character is equally likely.
func Fill(dst []byte) {
	var buf [64]byte
	n := 0
	for n < len(dst) {
		rand.Read(buf[:]) // never fails: see crypto/rand.Read
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			dst[n] = Alphabet[b%62]
			n++
			if n == len(dst) {
				return
			}
		}
	}
}

// ID returns prefix followed by n random characters (see [Fill]).
func ID(prefix string, n int) string {
	id := make([]byte, len(prefix)+n)
	Fill(id[copy(id, prefix):])
	return string(id)
}
