package httpsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// macState is an HMAC-SHA256 keyed with one secret, with room for the
// message and the sum, so that checking a MAC allocates nothing once the
// state exists.
type macState struct {
	h   hash.Hash
	msg []byte // the message, copied here: the caller's may stay on its stack
	sum [sha256.Size]byte
}

// maxPooledMsg bounds the message buffer a pooled state keeps: a
// signature base over unusually large headers is not held on to.
const maxPooledMsg = 4 << 10

func newMACState(secret []byte) *macState {
	return &macState{h: hmac.New(sha256.New, secret)}
}

// check reports whether mac is the HMAC of msg, comparing in constant
// time.
func (s *macState) check(msg, mac []byte) bool {
	s.h.Reset()
	s.msg = append(s.msg[:0], msg...)
	s.h.Write(s.msg)
	ok := hmac.Equal(s.h.Sum(s.sum[:0]), mac)
	if cap(s.msg) > maxPooledMsg {
		s.msg = nil
	}
	return ok
}

// macPool keeps HMAC-SHA256 states keyed with one secret. hmac.New
// allocates five objects and hashes the key's two pads; a pooled state is
// Reset instead, which restores the keyed pads. A pool belongs to one
// entry of the secret cache, so it goes when the entry does (rotation,
// revocation, expiry, eviction).
type macPool struct{ p sync.Pool }

// newMACPool returns a pool of states keyed with secret, which must not
// change afterwards.
func newMACPool(secret []byte) *macPool {
	return &macPool{p: sync.Pool{New: func() any { return newMACState(secret) }}}
}

// check reports whether mac is the HMAC of msg under the pool's secret,
// comparing in constant time.
func (p *macPool) check(msg, mac []byte) bool {
	s := p.p.Get().(*macState)
	ok := s.check(msg, mac)
	p.p.Put(s)
	return ok
}
