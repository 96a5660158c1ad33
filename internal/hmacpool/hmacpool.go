// Package hmacpool checks HMAC-SHA256 tags with keyed states that are
// reused rather than made per check: hmac.New allocates five objects and
// hashes the key's two pads, where a reused state's Reset restores the
// keyed pads. jwt (HS256 signatures) and httpsig (signed requests) check
// their MACs with it.
package hmacpool

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// State is an HMAC-SHA256 keyed with one secret, with room for the message
// and the sum, so that a check allocates nothing once the State exists.
// It is not safe for concurrent use.
type State struct {
	h   hash.Hash
	msg []byte // the message, copied here: the caller's may stay on its stack
	sum [sha256.Size]byte
}

// maxKeptMsg bounds the message buffer a State keeps: a message of
// unusual size is not held on to.
const maxKeptMsg = 4 << 10

// New returns a State keyed with secret.
func New(secret []byte) *State {
	return &State{h: hmac.New(sha256.New, secret)}
}

// Check reports whether tag is the HMAC-SHA256 of msg, comparing in
// constant time (hmac.Equal).
func (s *State) Check(msg, tag []byte) bool {
	s.h.Reset()
	s.msg = append(s.msg[:0], msg...)
	s.h.Write(s.msg)
	ok := hmac.Equal(s.h.Sum(s.sum[:0]), tag)
	if cap(s.msg) > maxKeptMsg {
		s.msg = nil
	}
	return ok
}

// Pool keeps States keyed with one secret. It is safe for concurrent use.
type Pool struct{ p sync.Pool }

// NewPool returns a Pool of States keyed with secret, which must not
// change afterwards.
func NewPool(secret []byte) *Pool {
	return &Pool{p: sync.Pool{New: func() any { return New(secret) }}}
}

// Check reports whether tag is the HMAC-SHA256 of msg under the pool's
// secret, comparing in constant time.
func (p *Pool) Check(msg, tag []byte) bool {
	s := p.p.Get().(*State)
	ok := s.Check(msg, tag)
	p.p.Put(s)
	return ok
}
