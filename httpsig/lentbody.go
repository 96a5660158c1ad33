package httpsig

import (
	"errors"
	"io"
	"sync"
)

// errBodyReleased is what a lent body's reads return once it was
// released: the request it belonged to has ended.
var errBodyReleased = errors.New("httpsig: request body read after its request ended")

// maxLentBuffer bounds the buffers that go back to the pool: the buffer of
// a larger body is left to the garbage collector instead, so that a small
// request never holds a large body's room (the pool's buffers are not
// sized by request) and the memory of the signed requests in flight stays
// about 16 KiB each at most.
const maxLentBuffer = 16 << 10

// bodyBuffers holds the buffers of released lent bodies (*[]byte, so that
// putting one back allocates nothing).
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// lentBody is the body [Verifier.VerifyLent] puts back: the verified bytes
// in a buffer from bodyBuffers. Its handle is made per request and never
// reused, so that a reader that outlives the request (a goroutine a
// handler left behind) holds this handle, never another request's. Release
// takes the buffer from the handle under the same mutex as reads, so no
// read can run while, or after, the buffer goes back to the pool and is
// filled with another request's bytes.
type lentBody struct {
	mu  sync.Mutex
	buf *[]byte // nil once released
	off int
}

// Read implements io.Reader: the verified bytes, then io.EOF; once the
// body is released, an error.
func (b *lentBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, errBodyReleased
	}
	rest := (*b.buf)[b.off:]
	if len(rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, rest)
	b.off += n
	return n, nil
}

// Close implements io.Closer. As the body of [Verifier.Verify], it leaves
// the bytes readable: only [ReleaseBody] ends them.
func (*lentBody) Close() error { return nil }

// release hands the buffer back to the pool, once; reads fail from then
// on.
func (b *lentBody) release() {
	b.mu.Lock()
	buf := b.buf
	b.buf = nil
	b.mu.Unlock()
	if buf != nil && cap(*buf) <= maxLentBuffer {
		*buf = (*buf)[:0]
		bodyBuffers.Put(buf)
	}
}

// ReleaseBody ends a body that [Verifier.VerifyLent] returned (and put in
// its request): its buffer goes back to a pool for later requests, and
// every read of the body, through any copy of the request, fails from
// then on (it never returns another request's bytes, also when a reader
// runs concurrently). Call it once nothing may read the body any more:
// for a middleware, when the next handler has returned (net/http's
// Handler contract forbids reading the body after that). It does nothing
// for any other body, and on a body already released.
func ReleaseBody(body io.ReadCloser) {
	if b, ok := body.(*lentBody); ok {
		b.release()
	}
}
