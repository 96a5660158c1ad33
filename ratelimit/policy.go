package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrInvalidPolicy reports a policy that cannot be enforced: a positive
	// Limit with a Window shorter than Limit nanoseconds (including zero or
	// negative windows), or a string that [ParsePolicy] does not accept.
	ErrInvalidPolicy = errors.New("ratelimit: invalid policy")
	// ErrFull reports that a [MemoryLimiter] holds as many keys as it may
	// and none has expired. The limiter fails closed: the request is not
	// allowed, and an HTTP server should answer 503 Service Unavailable.
	ErrFull = errors.New("ratelimit: too many keys")
)

// Policy is a rate limit: Limit requests per Window, with a burst of Limit.
// The zero value, like any policy with Limit <= 0, is unlimited.
type Policy struct {
	// Name identifies the policy in the RateLimit-Policy and RateLimit
	// headers; "default" when empty. It should be printable ASCII.
	Name string
	// Limit is the number of requests per Window, and the burst a fresh
	// key may make at once. Limit <= 0 means unlimited.
	Limit int
	// Window is the period of the limit. With a positive Limit it must be
	// at least Limit nanoseconds.
	Window time.Duration
}

// Unlimited reports whether p limits nothing (Limit <= 0).
func (p Policy) Unlimited() bool { return p.Limit <= 0 }

// Interval returns the emission interval Window/Limit (truncated to the
// nanosecond): the time one request's worth of quota takes to return. It is
// zero for an unlimited policy.
func (p Policy) Interval() time.Duration {
	if p.Limit <= 0 {
		return 0
	}
	return p.Window / time.Duration(p.Limit)
}

// Validate returns an error wrapping [ErrInvalidPolicy] if p has a positive
// Limit and a Window shorter than Limit nanoseconds.
func (p Policy) Validate() error {
	if p.Limit > 0 && p.Window < time.Duration(p.Limit) {
		return fmt.Errorf("%w: %d per %v", ErrInvalidPolicy, p.Limit, p.Window)
	}
	return nil
}

// String returns p in the form [ParsePolicy] reads, such as "20/10s", or
// "unlimited". The name is not included.
func (p Policy) String() string {
	if p.Limit <= 0 {
		return "unlimited"
	}
	return strconv.Itoa(p.Limit) + "/" + p.Window.String()
}

// ParsePolicy reads a policy written as <limit>/<window>, where limit is a
// decimal number of requests (at most 9 digits) and window a
// [time.ParseDuration] string, such as "20/10s", "100/1m" or "5000/1h". A
// window of one unit may omit the 1: "10/s", "100/m", "5000/h". "0/<window>" and "unlimited" give an unlimited
// policy. The returned policy has no name. Errors wrap [ErrInvalidPolicy].
func ParsePolicy(s string) (Policy, error) {
	if s == "unlimited" {
		return Policy{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok || n == "" || len(n) > 9 || strings.Trim(n, "0123456789") != "" {
		return Policy{}, fmt.Errorf("%w: %q: want <limit>/<window>, such as 20/10s", ErrInvalidPolicy, s)
	}
	limit, _ := strconv.Atoi(n) // at most 9 digits: cannot fail
	if w != "" && strings.Trim(w[:1], "0123456789.") != "" {
		w = "1" + w // "s" → "1s"
	}
	window, err := time.ParseDuration(w)
	if err != nil || window <= 0 {
		return Policy{}, fmt.Errorf("%w: %q: window must be a positive duration", ErrInvalidPolicy, s)
	}
	p := Policy{Limit: limit, Window: window}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Set parses s with [ParsePolicy] and keeps p's name, so that a *Policy is
// a [flag.Value]:
//
//	p := ratelimit.Policy{Name: "live", Limit: 20, Window: 10 * time.Second}
//	flag.Var(&p, "demo-rate-limit", "requests per window, such as 20/10s")
func (p *Policy) Set(s string) error {
	q, err := ParsePolicy(s)
	if err != nil {
		return err
	}
	q.Name = p.Name
	*p = q
	return nil
}
