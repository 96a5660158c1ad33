package main

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"time"
)

// tlsHandshakeRecord is the first byte a TLS client sends: the content
// type of a handshake record (RFC 8446 §5.1), which starts its
// ClientHello. No HTTP/1.x request line starts with it.
const tlsHandshakeRecord = 0x16

// mixedListener accepts TLS and plain HTTP on one listener, for tls with
// https_only: it reads the first byte of each connection it accepts,
// and hands a connection that starts a TLS handshake over as
// tls.Server(conn, config), and any other as it is (the byte read is
// read again), so that one http.Server answers both. With https_only the
// handler then refuses a credential sent over plain HTTP with keygate's
// 400 "HTTPS is required", audited, instead of Go's own text answer to
// plain HTTP on a TLS port.
//
// Accept does not wait for a client's first byte: each connection is
// read in a goroutine of its own, for at most timeout, and a connection
// that sends nothing in that time is closed. Close also closes the
// connections still being read. The http.Server must be set up for
// HTTP/2 over config (Serve does it when config, its TLSConfig, offers
// h2) before the first Accept.
type mixedListener struct {
	net.Listener
	config  *tls.Config
	timeout time.Duration

	start   sync.Once
	ready   chan accepted // the connections read, and Accept's errors
	done    chan struct{} // closed by Close
	closing sync.Once

	mu      sync.Mutex
	reading map[net.Conn]struct{} // the connections whose first byte is awaited
}

// accepted is one result of Accept.
type accepted struct {
	conn net.Conn
	err  error
}

// newMixedListener returns ln answering TLS with config and plain HTTP,
// closing a connection whose first byte does not arrive within timeout
// (none when 0).
func newMixedListener(ln net.Listener, config *tls.Config, timeout time.Duration) *mixedListener {
	return &mixedListener{
		Listener: ln, config: config, timeout: timeout,
		ready: make(chan accepted), done: make(chan struct{}), reading: make(map[net.Conn]struct{}),
	}
}

// Accept returns the next connection whose first byte arrived: a
// *tls.Conn for TLS, else the plain connection.
func (l *mixedListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case a := <-l.ready:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener and the connections whose first byte has not
// been read yet.
func (l *mixedListener) Close() error {
	err := l.Listener.Close()
	l.closing.Do(func() {
		close(l.done)
		l.mu.Lock()
		defer l.mu.Unlock()
		for c := range l.reading {
			c.Close()
		}
		l.reading = nil
	})
	return err
}

// acceptLoop accepts connections and reads each one's first byte in a
// goroutine of its own. Accept's errors are passed on to Accept (whose
// caller, http.Server.Serve, retries after a temporary one and closes the
// listener after any other), until the listener is closed.
func (l *mixedListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.ready <- accepted{err: err}:
			case <-l.done:
				return
			}
			continue
		}
		if !l.track(c) {
			c.Close()
			return
		}
		go l.classify(c)
	}
}

// track records that c's first byte is awaited, unless the listener is
// closed.
func (l *mixedListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reading == nil {
		return false
	}
	l.reading[c] = struct{}{}
	return true
}

// untrack records that c is no longer read here, and reports whether the
// listener is still open (else Close closed c).
func (l *mixedListener) untrack(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reading == nil {
		return false
	}
	delete(l.reading, c)
	return true
}

// classify reads c's first byte within the timeout and hands c to Accept,
// as TLS when the byte starts a handshake. A connection that sends
// nothing in time, or closes, is closed.
func (l *mixedListener) classify(c net.Conn) {
	if l.timeout > 0 {
		c.SetReadDeadline(time.Now().Add(l.timeout))
	}
	var first [1]byte
	_, err := io.ReadFull(c, first[:])
	if !l.untrack(c) {
		return
	}
	if err != nil || c.SetReadDeadline(time.Time{}) != nil {
		c.Close()
		return
	}
	var conn net.Conn = &peekedConn{Conn: c, first: first[:]}
	if first[0] == tlsHandshakeRecord {
		conn = tls.Server(conn, l.config)
	}
	select {
	case l.ready <- accepted{conn: conn}:
	case <-l.done:
		c.Close()
	}
}

// peekedConn is a connection whose first bytes were read already: Read
// returns them first.
type peekedConn struct {
	net.Conn
	first []byte
}

// Read reads the bytes read already, then the connection.
func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.first) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite shuts down the writing side of a TCP connection, as
// net/http does before closing one so that its last response is not
// lost to a reset.
func (c *peekedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
