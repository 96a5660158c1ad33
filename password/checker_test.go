package password_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate/password"
)

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

// found is a Lookup that finds encoded.
func found(encoded string) password.Lookup {
	return func(context.Context) (string, bool, error) { return encoded, true, nil }
}

// unknown is a Lookup for a name that has no hash.
func unknown(context.Context) (string, bool, error) { return "", false, nil }

func TestCheckerCheck(t *testing.T) {
	c, err := password.NewChecker(password.CheckerConfig{Params: cheap})
	require.NoError(t, err)
	hash, err := password.Hash("right", cheap)
	require.NoError(t, err)
	ctx := t.Context()
	client := netip.MustParseAddr("192.0.2.1")

	require.NoError(t, c.Check(ctx, client, "right", found(hash)))
	require.NoError(t, c.Check(ctx, netip.Addr{}, "right", found(hash)), "no client address")
	for name, tc := range map[string]struct {
		pw     string
		lookup password.Lookup
		also   error
	}{
		"wrong password":          {"wrong", found(hash), nil},
		"unknown name":            {"right", unknown, nil},
		"unknown, dummy password": {"unknown user", unknown, nil},
		"unknown, empty hash":     {"", unknown, nil},
		"malformed stored hash":   {"right", found("$argon2id$junk"), password.ErrMalformedHash},
		"empty stored hash":       {"", found(""), password.ErrMalformedHash},
		"too long":                {strings.Repeat("x", password.MaxLen+1), found(hash), password.ErrTooLong},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.Check(ctx, client, tc.pw, tc.lookup)
			require.ErrorIs(t, err, password.ErrMismatch)
			if tc.also != nil {
				assert.ErrorIs(t, err, tc.also)
			}
			if tc.pw != "" {
				assert.NotContains(t, err.Error(), tc.pw)
			}
		})
	}
}

func TestCheckerLookupFailureAndContext(t *testing.T) {
	c, err := password.NewChecker(password.CheckerConfig{Params: cheap})
	require.NoError(t, err)
	down := errors.New("store down")
	err = c.Check(t.Context(), netip.Addr{}, "pw", func(context.Context) (string, bool, error) { return "", false, down })
	require.ErrorIs(t, err, down)
	assert.NotErrorIs(t, err, password.ErrMismatch, "a failure to look is not a wrong password")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err = c.Check(ctx, netip.Addr{}, "pw", func(context.Context) (string, bool, error) { called = true; return "", false, nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, called, "no lookup for an ended context")
}

func TestCheckerDefaults(t *testing.T) {
	c, err := password.NewChecker(password.CheckerConfig{Params: cheap})
	require.NoError(t, err)
	// The defaults: DefaultMaxConcurrent slots, DefaultMaxPerClient each.
	g := holdChecks(t, c, distinctAddrs(password.DefaultMaxConcurrent)...)
	defer g.done()
	assert.ErrorIs(t, c.Check(t.Context(), netip.MustParseAddr("203.0.113.200"), "pw", unknown), password.ErrBusy, "every slot taken")
	_, err = password.NewChecker(password.CheckerConfig{Params: password.Params{Memory: 1}})
	assert.Error(t, err, "parameters out of bounds")
}

// distinctAddrs returns n distinct IPv4 addresses.
func distinctAddrs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
	}
	return out
}

// held is checks held under way inside their lookups.
type held struct {
	gate chan struct{}
	wg   sync.WaitGroup
	errs chan error
}

// done lets the held checks finish and waits for them.
func (h *held) done() {
	close(h.gate)
	h.wg.Wait()
}

// holdChecks starts one check from each client and returns once every one
// is inside its lookup, holding its slot.
func holdChecks(t *testing.T, c *password.Checker, clients ...netip.Addr) *held {
	t.Helper()
	h := &held{gate: make(chan struct{}), errs: make(chan error, len(clients))}
	started := make(chan struct{}, len(clients))
	for _, a := range clients {
		h.wg.Go(func() {
			h.errs <- c.Check(context.Background(), a, "pw", func(context.Context) (string, bool, error) {
				started <- struct{}{}
				<-h.gate
				return "", false, nil
			})
		})
	}
	for range clients {
		select {
		case <-started:
		case err := <-h.errs:
			t.Fatalf("a held check ended: %v", err)
		}
	}
	return h
}

func TestCheckerBounds(t *testing.T) {
	c, err := password.NewChecker(password.CheckerConfig{Params: cheap, MaxConcurrent: 3, MaxPerClient: 2})
	require.NoError(t, err)
	hash, err := password.Hash("right", cheap)
	require.NoError(t, err)
	ctx := t.Context()
	a := netip.MustParseAddr("198.51.100.7")

	h := holdChecks(t, c, a, a)
	assert.ErrorIs(t, c.Check(ctx, a, "right", found(hash)), password.ErrBusy, "a client at its share")
	assert.ErrorIs(t, c.Check(ctx, netip.MustParseAddr("::ffff:198.51.100.7"), "right", found(hash)), password.ErrBusy,
		"the IPv4-mapped form is the same client")
	h2 := holdChecks(t, c, netip.MustParseAddr("2001:db8:0:1::1"))
	assert.ErrorIs(t, c.Check(ctx, netip.MustParseAddr("203.0.113.1"), "right", found(hash)), password.ErrBusy, "every slot taken")
	assert.ErrorIs(t, c.Check(ctx, netip.Addr{}, "right", found(hash)), password.ErrBusy, "every slot taken, no address")
	h2.done()
	assert.ErrorIs(t, <-h2.errs, password.ErrMismatch)

	// An IPv6 client counts with its /64.
	h3 := holdChecks(t, c, netip.MustParseAddr("2001:db8:0:1::1"))
	h.done()
	for range 2 {
		assert.ErrorIs(t, <-h.errs, password.ErrMismatch)
	}
	c2, err := password.NewChecker(password.CheckerConfig{Params: cheap, MaxConcurrent: 3, MaxPerClient: 1})
	require.NoError(t, err)
	h4 := holdChecks(t, c2, netip.MustParseAddr("2001:db8:0:1::1"))
	assert.ErrorIs(t, c2.Check(ctx, netip.MustParseAddr("2001:db8:0:1::ffff"), "right", found(hash)), password.ErrBusy, "the same /64")
	assert.NoError(t, c2.Check(ctx, netip.MustParseAddr("2001:db8:0:2::1"), "right", found(hash)), "another /64")
	h4.done()
	h3.done()

	// Every slot is free again.
	for range 3 {
		assert.NoError(t, c.Check(ctx, a, "right", found(hash)))
	}
	assert.NoError(t, c2.Check(ctx, netip.MustParseAddr("2001:db8:0:1::ffff"), "right", found(hash)))
}
