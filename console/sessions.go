package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keygate/keygate/console/consolestore"
)

// Session lifetimes by default.
const (
	// DefaultIdleTimeout ends a session nobody used for that long.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultAbsoluteTimeout ends a session that long after it started,
	// however much it is used.
	DefaultAbsoluteTimeout = 12 * time.Hour
	// DefaultTouchInterval is how often a session in use has its LastSeen
	// written: at most once per interval, to spare the store.
	DefaultTouchInterval = time.Minute
)

// sessionIDLen is the length of a session ID in bytes: 256 bits.
const sessionIDLen = 32

// SessionsConfig configures [Sessions].
type SessionsConfig struct {
	// Store keeps the sessions. Nil means a new [consolestore.MemorySessionStore].
	Store consolestore.SessionStore
	// IdleTimeout ends a session unused for longer. Zero means
	// [DefaultIdleTimeout].
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session older than that. Zero means
	// [DefaultAbsoluteTimeout].
	AbsoluteTimeout time.Duration
	// TouchInterval is the least time between two writes of a session's
	// LastSeen. Zero means [DefaultTouchInterval]; it is at most
	// IdleTimeout.
	TouchInterval time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Sessions are server-held console sessions. A session ID is 256 random
// bits, given to the browser once (base64url without padding, for a
// cookie) and stored only as its SHA-256 hash, so that a copy of the store
// does not sign anyone in. A session ends when signed out ([Sessions.End]),
// after IdleTimeout unused, after AbsoluteTimeout in all, or when its user
// is signed out everywhere ([Sessions.DeleteUser]). A session holds only
// the user's name: the handler loads the user on each request, so that a
// changed role or a disabled user takes effect at once. Sessions are safe
// for concurrent use.
type Sessions struct {
	store                     consolestore.SessionStore
	idle, absolute, touchEach time.Duration
	now                       func() time.Time

	mu        sync.Mutex
	lastSweep time.Time // when Start last swept ended sessions
}

// NewSessions returns Sessions for cfg.
func NewSessions(cfg SessionsConfig) (*Sessions, error) {
	s := &Sessions{store: cfg.Store, idle: cfg.IdleTimeout, absolute: cfg.AbsoluteTimeout, touchEach: cfg.TouchInterval, now: cfg.Now}
	if s.idle < 0 || s.absolute < 0 || s.touchEach < 0 {
		return nil, errors.New("console: negative session timeout")
	}
	if s.store == nil {
		s.store = consolestore.NewMemorySessionStore()
	}
	if s.idle == 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.absolute == 0 {
		s.absolute = DefaultAbsoluteTimeout
	}
	if s.touchEach == 0 {
		s.touchEach = DefaultTouchInterval
	}
	s.touchEach = min(s.touchEach, s.idle)
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// IdleTimeout is how long an unused session lasts.
func (m *Sessions) IdleTimeout() time.Duration { return m.idle }

// AbsoluteTimeout is how long a session lasts in all.
func (m *Sessions) AbsoluteTimeout() time.Duration { return m.absolute }

// Expires is when s ends if it is not used before: its idle or its
// absolute end, whichever comes first.
func (m *Sessions) Expires(s consolestore.Session) time.Time {
	idle, abs := s.LastSeen.Add(m.idle), s.Created.Add(m.absolute)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

// expired reports whether s has ended at now: unused for longer than the
// idle timeout, or older than the absolute one.
func (m *Sessions) expired(s consolestore.Session, now time.Time) bool {
	return now.Sub(s.LastSeen) > m.idle || now.Sub(s.Created) > m.absolute
}

var sessionIDEncoding = base64.RawURLEncoding.Strict()

// hashID returns the stored form of a session ID: the SHA-256 hash of its
// bytes, or false for a string that is not a session ID.
func hashID(id string) ([]byte, bool) {
	if len(id) != base64.RawURLEncoding.EncodedLen(sessionIDLen) {
		return nil, false
	}
	raw, err := sessionIDEncoding.DecodeString(id)
	if err != nil || len(raw) != sessionIDLen {
		return nil, false
	}
	h := sha256.Sum256(raw)
	return h[:], true
}

// Start starts a session for the user named username and returns its ID,
// for the session cookie: 256 random bits as base64url without padding.
// The caller authenticates the user first. At most once per idle timeout,
// Start also deletes the sessions that have ended ([Sessions.DeleteExpired],
// best effort), so that the store does not grow without a sweeper.
func (m *Sessions) Start(ctx context.Context, username string) (string, consolestore.Session, error) {
	if username == "" {
		return "", consolestore.Session{}, errors.New("console: a session needs a user name")
	}
	raw := make([]byte, sessionIDLen)
	rand.Read(raw)
	id := sessionIDEncoding.EncodeToString(raw)
	h := sha256.Sum256(raw)
	now := m.now().UTC().Round(0)
	s := consolestore.Session{Username: username, Created: now, LastSeen: now}
	if err := m.store.Create(ctx, h[:], s); err != nil {
		return "", consolestore.Session{}, fmt.Errorf("console: store session: %w", err)
	}
	if m.sweepDue(now) {
		_, _ = m.DeleteExpired(ctx) // best effort: Resume refuses ended sessions anyway
	}
	return id, s, nil
}

// sweepDue reports whether a sweep is due at now (none in the last idle
// timeout), and if so counts it as done.
func (m *Sessions) sweepDue(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.lastSweep.IsZero() && now.Sub(m.lastSweep) < m.idle {
		return false
	}
	m.lastSweep = now
	return true
}

// Resume returns the live session that id names and marks it used (its
// LastSeen is written at most once per touch interval). It answers
// [consolestore.ErrNoSession] for a malformed or unknown ID and for a session unused
// for longer than the idle timeout or older than the absolute one, which
// it deletes. A store failure is returned wrapped, and is not
// ErrNoSession: the caller fails closed.
func (m *Sessions) Resume(ctx context.Context, id string) (consolestore.Session, error) {
	h, ok := hashID(id)
	if !ok {
		return consolestore.Session{}, consolestore.ErrNoSession
	}
	s, err := m.store.Get(ctx, h)
	switch {
	case errors.Is(err, consolestore.ErrNoSession):
		return consolestore.Session{}, consolestore.ErrNoSession
	case err != nil:
		return consolestore.Session{}, fmt.Errorf("console: look up session: %w", err)
	}
	now := m.now().UTC().Round(0)
	if m.expired(s, now) {
		if err := m.store.Delete(ctx, h); err != nil {
			return consolestore.Session{}, fmt.Errorf("console: delete expired session: %w", err)
		}
		return consolestore.Session{}, consolestore.ErrNoSession
	}
	if now.Sub(s.LastSeen) >= m.touchEach {
		switch err := m.store.Touch(ctx, h, now); {
		case errors.Is(err, consolestore.ErrNoSession): // ended meanwhile
			return consolestore.Session{}, consolestore.ErrNoSession
		case err != nil:
			return consolestore.Session{}, fmt.Errorf("console: touch session: %w", err)
		}
		s.LastSeen = now
	}
	return s, nil
}

// End ends the session that id names, on the server: its cookie no longer
// signs anyone in. Ending an unknown or malformed ID is no error.
func (m *Sessions) End(ctx context.Context, id string) error {
	h, ok := hashID(id)
	if !ok {
		return nil
	}
	if err := m.store.Delete(ctx, h); err != nil {
		return fmt.Errorf("console: delete session: %w", err)
	}
	return nil
}

// DeleteUser ends every session of the user named username: it signs the
// user out everywhere.
func (m *Sessions) DeleteUser(ctx context.Context, username string) error {
	if err := m.store.DeleteUser(ctx, username); err != nil {
		return fmt.Errorf("console: delete sessions of user: %w", err)
	}
	return nil
}

// DeleteExpired deletes the sessions that have ended by now (Resume
// refuses them anyway) and returns how many it deleted. Run it now and
// then to keep the store small.
func (m *Sessions) DeleteExpired(ctx context.Context) (int, error) {
	now := m.now().UTC().Round(0)
	n, err := m.store.DeleteExpired(ctx, now.Add(-m.idle), now.Add(-m.absolute))
	if err != nil {
		return n, fmt.Errorf("console: delete expired sessions: %w", err)
	}
	return n, nil
}

// csrfLabel separates the form tokens from every other use of a session
// ID.
const csrfLabel = "keygate console CSRF token v1"

// CSRFToken returns the form token of the session id names: derived from
// the ID (HMAC-SHA256 keyed with it, base64url), not stored, and of no use
// without the ID it came from, which it does not reveal. Put it in every
// form; check it with [CheckCSRF].
func CSRFToken(id string) string {
	mac := hmac.New(sha256.New, []byte(id))
	mac.Write([]byte(csrfLabel))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports, in constant time, whether token is the form token of
// the session id names. It is false for an empty id or token.
func CheckCSRF(id, token string) bool {
	if id == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(CSRFToken(id)), []byte(token)) == 1
}
