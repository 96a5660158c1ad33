package httpsig_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/httpsig/httpsigtest"
)

func TestMemoryCredentialStore(t *testing.T) {
	httpsigtest.TestCredentialStore(t, func(*testing.T) httpsig.CredentialStore { return httpsig.NewMemoryCredentialStore() })
}

// credClock is an injectable clock, safe for concurrent use.
type credClock struct{ ns atomic.Int64 }

var credT0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newCredClock() *credClock {
	c := &credClock{}
	c.ns.Store(credT0.UnixNano())
	return c
}

func (c *credClock) Now() time.Time           { return time.Unix(0, c.ns.Load()).UTC() }
func (c *credClock) Set(offset time.Duration) { c.ns.Store(credT0.Add(offset).UnixNano()) }

// credMasterKey returns a master key whose bytes all equal b.
func credMasterKey(b byte) []byte { return bytes.Repeat([]byte{b}, httpsig.MasterKeyLen) }

type credEnv struct {
	m     *httpsig.Manager
	store *httpsig.MemoryCredentialStore
	clock *credClock
}

func newCredEnv(t *testing.T) credEnv {
	t.Helper()
	e := credEnv{store: httpsig.NewMemoryCredentialStore(), clock: newCredClock()}
	var err error
	e.m, err = httpsig.NewManager(httpsig.Config{Store: e.store, MasterKey: credMasterKey(7), Now: e.clock.Now})
	require.NoError(t, err)
	return e
}

func (e credEnv) create(t *testing.T, p httpsig.CreateParams) (httpsig.Secret, httpsig.Credential) {
	t.Helper()
	if p.Account == "" {
		p.Account = "acct_1"
	}
	if p.Mode == "" {
		p.Mode = keygate.ModeTest
	}
	s, c, err := e.m.Create(context.Background(), p)
	require.NoError(t, err)
	return s, c
}

func TestNewManagerMasterKey(t *testing.T) {
	for _, key := range [][]byte{nil, {}, make([]byte, 16), make([]byte, 31), make([]byte, 33), make([]byte, 64)} {
		_, err := httpsig.NewManager(httpsig.Config{MasterKey: key})
		assert.ErrorIs(t, err, httpsig.ErrInvalidParams, "a master key of %d bytes", len(key))
	}

	// The master key is copied: changing the caller's slice later changes
	// nothing.
	key := credMasterKey(9)
	store := httpsig.NewMemoryCredentialStore()
	m, err := httpsig.NewManager(httpsig.Config{Store: store, MasterKey: key})
	require.NoError(t, err)
	secret, cred, err := m.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	clear(key)
	active, err := m.Lookup(context.Background(), cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{secret.Reveal()}, active.Secrets)

	// A nil store means a memory store of the manager's own.
	m2, err := httpsig.NewManager(httpsig.Config{MasterKey: credMasterKey(9)})
	require.NoError(t, err)
	_, cred2, err := m2.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive}})
	require.NoError(t, err)
	_, err = m2.Lookup(context.Background(), cred2.KeyID)
	require.NoError(t, err)
}

func TestManagerCreate(t *testing.T) {
	e := newCredEnv(t)
	p := httpsig.CreateParams{
		Grant: keygate.Grant{
			Account:     "acct_1",
			Mode:        keygate.ModeLive,
			Package:     "GO",
			Permissions: []string{"products:read"},
			Stores:      []string{"store_1"},
			AllowedIPs:  []string{"10.0.0.0/8", "192.0.2.1"},
		},
		Name:    "billing worker",
		Expires: credT0.Add(24 * time.Hour),
	}
	secret, cred := e.create(t, p)

	// Key ID: "hk_" and 16 base62 characters.
	assert.Len(t, cred.KeyID, httpsig.KeyIDLen)
	assert.Regexp(t, `^hk_[0-9A-Za-z]{16}$`, cred.KeyID)
	assert.Equal(t, cred.KeyID, secret.KeyID())

	// Secret: 64 bytes, standard base64 with padding.
	plain := secret.Reveal()
	require.Len(t, plain, httpsig.SecretLen)
	b64 := secret.Base64()
	assert.Len(t, b64, 88)
	assert.True(t, strings.HasSuffix(b64, "=="), "padded")
	decoded, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	assert.Equal(t, plain, decoded)
	plain[0] ^= 0xff
	assert.NotEqual(t, plain, secret.Reveal(), "Reveal returns a copy")

	// The stored record.
	assert.Equal(t, "acct_1", cred.Account)
	assert.Equal(t, keygate.ModeLive, cred.Mode)
	assert.Equal(t, "billing worker", cred.Name)
	assert.Equal(t, "GO", cred.Package)
	assert.Equal(t, p.Permissions, cred.Permissions)
	assert.Equal(t, p.Stores, cred.Stores)
	assert.Equal(t, p.AllowedIPs, cred.AllowedIPs)
	assert.Equal(t, httpsig.StatusActive, cred.Status, "live credentials need no review")
	assert.False(t, cred.Disabled)
	assert.True(t, cred.Created.Equal(credT0))
	assert.True(t, cred.Expires.Equal(p.Expires))
	assert.Equal(t, int64(1), cred.Version)
	require.Len(t, cred.Secrets, 1)
	assert.True(t, cred.Secrets[0].NotAfter.IsZero())

	// The caller's slices are not shared with the store.
	p.Permissions[0] = "mutated"
	got, err := e.m.Get(context.Background(), cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, []string{"products:read"}, got.Permissions)

	// Lookup gives the identity and the secret.
	active, err := e.m.Lookup(context.Background(), cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, httpsig.Active{KeyID: cred.KeyID, Grant: cred.Grant, Secrets: [][]byte{secret.Reveal()}}, active)

	// Lookup hands out memory of the caller's own.
	active.Secrets[0][0] ^= 0xff
	active.Permissions[0] = "mutated"
	again, err := e.m.Lookup(context.Background(), cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, secret.Reveal(), again.Secrets[0])
	assert.Equal(t, []string{"products:read"}, again.Permissions)

	// Two credentials never share a key ID or a secret.
	other, otherCred := e.create(t, httpsig.CreateParams{})
	assert.NotEqual(t, cred.KeyID, otherCred.KeyID)
	assert.NotEqual(t, secret.Reveal(), other.Reveal())
}

func TestManagerCreateInvalid(t *testing.T) {
	e := newCredEnv(t)
	ok := httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}}
	tests := []struct {
		name   string
		change func(*httpsig.CreateParams)
	}{
		{"no account", func(p *httpsig.CreateParams) { p.Account = "" }},
		{"account with a space", func(p *httpsig.CreateParams) { p.Account = "acct 1" }},
		{"account too long", func(p *httpsig.CreateParams) { p.Account = strings.Repeat("a", 129) }},
		{"no mode", func(p *httpsig.CreateParams) { p.Mode = "" }},
		{"unknown mode", func(p *httpsig.CreateParams) { p.Mode = "prod" }},
		{"name too long", func(p *httpsig.CreateParams) { p.Name = strings.Repeat("n", 201) }},
		{"name with a newline", func(p *httpsig.CreateParams) { p.Name = "a\nb" }},
		{"name not UTF-8", func(p *httpsig.CreateParams) { p.Name = "\xff" }},
		{"bad package", func(p *httpsig.CreateParams) { p.Package = "G O" }},
		{"bad store", func(p *httpsig.CreateParams) { p.Stores = []string{"ok", "not/ok"} }},
		{"empty permission", func(p *httpsig.CreateParams) { p.Permissions = []string{""} }},
		{"permission with a space", func(p *httpsig.CreateParams) { p.Permissions = []string{"a b"} }},
		{"bad allowed IP", func(p *httpsig.CreateParams) { p.AllowedIPs = []string{"10.0.0.300"} }},
		{"expiry now", func(p *httpsig.CreateParams) { p.Expires = credT0 }},
		{"expiry past", func(p *httpsig.CreateParams) { p.Expires = credT0.Add(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.change(&p)
			_, _, err := e.m.Create(context.Background(), p)
			assert.ErrorIs(t, err, httpsig.ErrInvalidParams)
		})
	}
	cs, err := e.m.List(context.Background(), httpsig.ListFilter{Account: "acct_1"})
	require.NoError(t, err)
	assert.Empty(t, cs, "nothing stored")

	for _, f := range []httpsig.ListFilter{
		{Account: "acct 1"},
		{Account: "acct_1", Mode: "prod"},
		{Status: "disabled"},
		{AfterID: "hk_x y"},
		{AfterID: strings.Repeat("a", 129)},
		{Limit: -1},
	} {
		_, err = e.m.List(context.Background(), f)
		assert.ErrorIs(t, err, httpsig.ErrInvalidParams, "%+v", f)
	}
	_, _, err = e.m.Rotate(context.Background(), "hk_x", -time.Second)
	assert.ErrorIs(t, err, httpsig.ErrInvalidParams)
}

func TestManagerList(t *testing.T) {
	e := newCredEnv(t)
	var want []string
	for i := 0; i < 3; i++ {
		e.clock.Set(time.Duration(i) * time.Minute)
		_, c := e.create(t, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
		want = append(want, c.KeyID)
	}
	e.create(t, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeLive}})
	e.create(t, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_2", Mode: keygate.ModeTest}})
	cs, err := e.m.List(context.Background(), httpsig.ListFilter{Account: "acct_1", Mode: keygate.ModeTest})
	require.NoError(t, err)
	var got []string
	for _, c := range cs {
		got = append(got, c.KeyID)
	}
	assert.Equal(t, want, got)
	all, err := e.m.List(context.Background(), httpsig.ListFilter{Account: "acct_1"})
	require.NoError(t, err)
	assert.Len(t, all, 4)

	// Every account, by status, one page at a time.
	_, err = e.m.Revoke(context.Background(), want[1])
	require.NoError(t, err)
	everyone, err := e.m.List(context.Background(), httpsig.ListFilter{})
	require.NoError(t, err)
	assert.Len(t, everyone, 5)
	revoked, err := e.m.List(context.Background(), httpsig.ListFilter{Status: httpsig.StatusRevoked})
	require.NoError(t, err)
	require.Len(t, revoked, 1)
	assert.Equal(t, want[1], revoked[0].KeyID)
	var paged []string
	f := httpsig.ListFilter{Status: httpsig.StatusActive, Limit: 2}
	for {
		page, err := e.m.List(context.Background(), f)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		assert.LessOrEqual(t, len(page), 2)
		for _, c := range page {
			paged = append(paged, c.KeyID)
		}
		f.AfterCreated, f.AfterID = page[len(page)-1].Created, page[len(page)-1].KeyID
	}
	var active []string
	for _, c := range everyone {
		if c.KeyID != want[1] {
			active = append(active, c.KeyID)
		}
	}
	assert.Equal(t, active, paged)
}

// TestManagerLifecycle runs scenarios on an injected clock. Each step sets
// the clock to t0+at, then acts or looks up. Secrets are named by
// generation: 0 is Create's, n the n-th rotation's.
func TestManagerLifecycle(t *testing.T) {
	type step struct {
		at    time.Duration
		op    string // lookup, rotate, revoke, disable, enable
		grace time.Duration
		// For lookup: the error, or else the generations that verify,
		// current first. For other operations: the error, if any.
		err  error
		want []int
	}
	lookup := func(at time.Duration, want ...int) step { return step{at: at, op: "lookup", want: want} }
	refused := func(at time.Duration, err error) step { return step{at: at, op: "lookup", err: err} }
	rotate := func(at, grace time.Duration) step { return step{at: at, op: "rotate", grace: grace} }
	op := func(at time.Duration, name string) step { return step{at: at, op: name} }
	failing := func(at time.Duration, name string, err error) step { return step{at: at, op: name, err: err} }

	tests := []struct {
		name    string
		expires time.Duration // after t0; zero: never
		steps   []step
	}{
		{"fresh", 0, []step{lookup(0, 0), lookup(1000*time.Hour, 0)}},
		{"rotate without grace", 0, []step{
			rotate(time.Minute, 0), lookup(time.Minute, 1), lookup(time.Hour, 1),
		}},
		{"rotate with grace", 0, []step{
			rotate(time.Minute, time.Hour),
			lookup(time.Minute, 1, 0),
			lookup(time.Hour+time.Minute-time.Nanosecond, 1, 0),
			lookup(time.Hour+time.Minute, 1), // the grace period ends exactly then
		}},
		{"overlapping graces", 0, []step{
			rotate(0, time.Hour),                  // 0 until 1h
			rotate(10*time.Minute, time.Hour),     // 1 until 1h10m
			rotate(20*time.Minute, 5*time.Minute), // 2 until 25m
			lookup(20*time.Minute, 3, 2, 1, 0),
			lookup(30*time.Minute, 3, 1, 0),
			lookup(time.Hour, 3, 1),
			lookup(70*time.Minute, 3),
		}},
		{"rotate without grace keeps earlier graces", 0, []step{
			rotate(0, time.Hour), rotate(time.Minute, 0),
			lookup(time.Minute, 2, 0),
			lookup(time.Hour, 2),
		}},
		{"at most four replaced secrets", 0, []step{
			rotate(1*time.Second, time.Hour), rotate(2*time.Second, time.Hour), rotate(3*time.Second, time.Hour),
			rotate(4*time.Second, time.Hour), rotate(5*time.Second, time.Hour), rotate(6*time.Second, time.Hour),
			lookup(7*time.Second, 6, 5, 4, 3, 2),
		}},
		{"revoke", 0, []step{
			lookup(0, 0), op(time.Minute, "revoke"),
			refused(time.Minute, httpsig.ErrRevoked),
			op(2*time.Minute, "revoke"), // twice is fine
			failing(3*time.Minute, "rotate", httpsig.ErrRevoked),
			failing(3*time.Minute, "disable", httpsig.ErrInvalidState),
			failing(3*time.Minute, "enable", httpsig.ErrInvalidState),
			refused(time.Hour, httpsig.ErrRevoked),
		}},
		{"revoke ends a grace period", 0, []step{
			rotate(0, time.Hour), op(time.Minute, "revoke"), refused(time.Minute, httpsig.ErrRevoked),
		}},
		{"expire", time.Hour, []step{
			lookup(time.Hour-time.Nanosecond, 0),
			refused(time.Hour, httpsig.ErrExpired),
			rotate(2*time.Hour, 0), // rotating does not revive it
			refused(2*time.Hour, httpsig.ErrExpired),
		}},
		{"revoked before expired", time.Hour, []step{
			op(0, "revoke"), refused(2*time.Hour, httpsig.ErrRevoked),
		}},
		{"disable and enable", 0, []step{
			op(time.Minute, "disable"), refused(time.Minute, httpsig.ErrDisabled),
			op(time.Minute, "disable"), refused(time.Minute, httpsig.ErrDisabled),
			rotate(2*time.Minute, time.Hour), refused(2*time.Minute, httpsig.ErrDisabled),
			op(3*time.Minute, "enable"), lookup(3*time.Minute, 1, 0),
			op(4*time.Minute, "enable"), lookup(4*time.Minute, 1, 0),
		}},
		{"expired before disabled", time.Hour, []step{
			op(0, "disable"), refused(time.Hour, httpsig.ErrExpired),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCredEnv(t)
			ctx := context.Background()
			p := httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}}
			if tt.expires != 0 {
				p.Expires = credT0.Add(tt.expires)
			}
			first, cred := e.create(t, p)
			gens := [][]byte{first.Reveal()}
			id := cred.KeyID
			for i, s := range tt.steps {
				e.clock.Set(s.at)
				var err error
				switch s.op {
				case "lookup":
					var active httpsig.Active
					active, err = e.m.Lookup(ctx, id)
					if s.err == nil {
						require.NoError(t, err, "step %d", i)
						want := make([][]byte, len(s.want))
						for j, g := range s.want {
							want[j] = gens[g]
						}
						assert.Equal(t, want, active.Secrets, "step %d: secrets that verify", i)
						continue
					}
					assert.Equal(t, httpsig.Active{}, active, "step %d: nothing returned with an error", i)
				case "rotate":
					var secret httpsig.Secret
					var c httpsig.Credential
					secret, c, err = e.m.Rotate(ctx, id, s.grace)
					if err == nil {
						gens = append(gens, secret.Reveal())
						assert.True(t, c.RotatedAt.Equal(e.clock.Now()), "step %d: RotatedAt", i)
						assert.Equal(t, id, secret.KeyID())
					}
				case "revoke":
					var before, c httpsig.Credential
					before, err = e.m.Get(ctx, id)
					require.NoError(t, err)
					c, err = e.m.Revoke(ctx, id)
					if err == nil {
						assert.Equal(t, httpsig.StatusRevoked, c.Status)
						assert.Empty(t, c.Secrets, "step %d: revocation erases the sealed secrets", i)
						if before.Status == httpsig.StatusRevoked {
							assert.True(t, c.RevokedAt.Equal(before.RevokedAt), "step %d: revoking twice keeps the first time", i)
						} else {
							assert.True(t, c.RevokedAt.Equal(e.clock.Now()), "step %d: RevokedAt", i)
						}
					}
				case "disable":
					var c httpsig.Credential
					c, err = e.m.Disable(ctx, id)
					if err == nil {
						assert.True(t, c.Disabled)
					}
				case "enable":
					var c httpsig.Credential
					c, err = e.m.Enable(ctx, id)
					if err == nil {
						assert.False(t, c.Disabled)
					}
				default:
					t.Fatalf("unknown op %q", s.op)
				}
				if s.err == nil {
					require.NoError(t, err, "step %d: %s", i, s.op)
				} else {
					require.ErrorIs(t, err, s.err, "step %d: %s", i, s.op)
				}
			}
		})
	}
}

func TestManagerUnknownKey(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	_, cred := e.create(t, httpsig.CreateParams{})
	for _, id := range []string{
		"", "hk_0000000000000000", strings.ToUpper(cred.KeyID), strings.ToLower(cred.KeyID),
		cred.KeyID + " ", cred.KeyID[:len(cred.KeyID)-1], strings.Repeat("x", httpsig.MaxKeyIDLen+1), "\x00",
	} {
		if id == cred.KeyID {
			continue // a key ID all in one case, by chance
		}
		active, err := e.m.Lookup(ctx, id)
		assert.ErrorIs(t, err, httpsig.ErrNotFound, "Lookup(%q)", id)
		assert.Equal(t, httpsig.Active{}, active)
	}
	for name, call := range map[string]func(string) error{
		"Get":     func(id string) error { _, err := e.m.Get(ctx, id); return err },
		"Rotate":  func(id string) error { _, _, err := e.m.Rotate(ctx, id, 0); return err },
		"Revoke":  func(id string) error { _, err := e.m.Revoke(ctx, id); return err },
		"Disable": func(id string) error { _, err := e.m.Disable(ctx, id); return err },
		"Enable":  func(id string) error { _, err := e.m.Enable(ctx, id); return err },
	} {
		assert.ErrorIs(t, call("hk_0000000000000000"), httpsig.ErrNotFound, name)
	}

	// A store failure is not an unknown key: the verifier must not mistake
	// an outage for a refusal.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := e.m.Lookup(cctx, cred.KeyID)
	assert.ErrorIs(t, err, context.Canceled)
	for _, sentinel := range []error{httpsig.ErrNotFound, httpsig.ErrRevoked, httpsig.ErrExpired, httpsig.ErrDisabled} {
		assert.NotErrorIs(t, err, sentinel)
	}
}

// credCaseFoldingStore is a MemoryCredentialStore whose Get answers for a
// key ID in another case, as a case-insensitive database collation would.
type credCaseFoldingStore struct {
	*httpsig.MemoryCredentialStore
	real string
}

func (s credCaseFoldingStore) Get(ctx context.Context, keyID string) (httpsig.Credential, error) {
	if strings.EqualFold(keyID, s.real) {
		keyID = s.real
	}
	return s.MemoryCredentialStore.Get(ctx, keyID)
}

// TestLookupRequiresTheExactKeyID: even if a backend matches key IDs
// loosely, Lookup answers only for the exact one, so that nonces (kept per
// key ID) cannot be sidestepped by changing the case of the keyid.
func TestLookupRequiresTheExactKeyID(t *testing.T) {
	mem := httpsig.NewMemoryCredentialStore()
	m, err := httpsig.NewManager(httpsig.Config{Store: mem, MasterKey: credMasterKey(1)})
	require.NoError(t, err)
	_, cred, err := m.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	folding, err := httpsig.NewManager(httpsig.Config{Store: credCaseFoldingStore{mem, cred.KeyID}, MasterKey: credMasterKey(1)})
	require.NoError(t, err)
	_, err = folding.Lookup(context.Background(), cred.KeyID)
	require.NoError(t, err)
	_, err = folding.Lookup(context.Background(), "HK_"+cred.KeyID[3:])
	assert.ErrorIs(t, err, httpsig.ErrNotFound)
}

// credSealed returns a credential, with its sealed secrets, straight from
// the store.
func credSealed(t *testing.T, s httpsig.CredentialStore, keyID string) httpsig.Credential {
	t.Helper()
	c, err := s.Get(context.Background(), keyID)
	require.NoError(t, err)
	return c
}

// credReplaceSecrets writes secrets into the stored credential, as an
// attacker with write access to the store could.
func credReplaceSecrets(t *testing.T, s httpsig.CredentialStore, keyID string, secrets []httpsig.StoredSecret) {
	t.Helper()
	c := credSealed(t, s, keyID)
	c.Secrets = secrets
	_, err := s.Update(context.Background(), c)
	require.NoError(t, err)
}

func TestStoreHoldsOnlySealedSecrets(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	first, cred := e.create(t, httpsig.CreateParams{Name: "sealed"})
	second, _, err := e.m.Rotate(ctx, cred.KeyID, time.Hour)
	require.NoError(t, err)
	stored := credSealed(t, e.store, cred.KeyID)
	require.Len(t, stored.Secrets, 2)
	dump := fmt.Sprintf("%#v %+v", stored, e.store)
	for _, secret := range []httpsig.Secret{first, second} {
		plain := secret.Reveal()
		for _, s := range stored.Secrets {
			assert.Len(t, s.Sealed, httpsig.SecretLen+29, "version, nonce, ciphertext and tag")
			assert.False(t, bytes.Contains(s.Sealed, plain[:16]), "the store holds no part of the plaintext")
			assert.NotEqual(t, plain, s.Sealed[13:13+httpsig.SecretLen])
		}
		for _, form := range []string{secret.Base64(), hex.EncodeToString(plain), fmt.Sprint(plain)[1:40]} {
			assert.NotContains(t, dump, form)
		}
	}
	// The manager never hands out sealed forms of the plaintext either:
	// Get, List, Create and Rotate return ciphertext.
	got, err := e.m.Get(ctx, cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, stored, got)

	// A second manager with the same master key reads the same store (the
	// secrets survive a restart).
	m2, err := httpsig.NewManager(httpsig.Config{Store: e.store, MasterKey: credMasterKey(7), Now: e.clock.Now})
	require.NoError(t, err)
	active, err := m2.Lookup(ctx, cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{second.Reveal(), first.Reveal()}, active.Secrets)
}

func TestSealedSecretsResistTampering(t *testing.T) {
	ctx := context.Background()
	notRejection := func(t *testing.T, err error) {
		t.Helper()
		assert.ErrorIs(t, err, httpsig.ErrUnseal)
		for _, sentinel := range []error{httpsig.ErrNotFound, httpsig.ErrRevoked, httpsig.ErrExpired, httpsig.ErrDisabled} {
			assert.NotErrorIs(t, err, sentinel, "a sealing failure is an internal error, not a credential state")
		}
	}

	t.Run("wrong master key", func(t *testing.T) {
		e := newCredEnv(t)
		_, cred := e.create(t, httpsig.CreateParams{})
		other, err := httpsig.NewManager(httpsig.Config{Store: e.store, MasterKey: credMasterKey(8)})
		require.NoError(t, err)
		active, err := other.Lookup(ctx, cred.KeyID)
		notRejection(t, err)
		assert.Empty(t, active.Secrets)
		// The right key still opens it.
		_, err = e.m.Lookup(ctx, cred.KeyID)
		require.NoError(t, err)
	})

	t.Run("every byte", func(t *testing.T) {
		e := newCredEnv(t)
		_, cred := e.create(t, httpsig.CreateParams{})
		orig := credSealed(t, e.store, cred.KeyID).Secrets
		for i := range orig[0].Sealed {
			for _, bit := range []byte{0x01, 0x80} {
				bad := []httpsig.StoredSecret{{Sealed: bytes.Clone(orig[0].Sealed)}}
				bad[0].Sealed[i] ^= bit
				credReplaceSecrets(t, e.store, cred.KeyID, bad)
				_, err := e.m.Lookup(ctx, cred.KeyID)
				notRejection(t, err)
			}
		}
		credReplaceSecrets(t, e.store, cred.KeyID, orig)
		_, err := e.m.Lookup(ctx, cred.KeyID)
		require.NoError(t, err, "the untouched secret opens")
	})

	t.Run("truncated or extended", func(t *testing.T) {
		e := newCredEnv(t)
		_, cred := e.create(t, httpsig.CreateParams{})
		sealed := credSealed(t, e.store, cred.KeyID).Secrets[0].Sealed
		for _, bad := range [][]byte{nil, {}, sealed[:1], sealed[:13], sealed[:28], sealed[:29], sealed[:len(sealed)-1], append(bytes.Clone(sealed), 0)} {
			credReplaceSecrets(t, e.store, cred.KeyID, []httpsig.StoredSecret{{Sealed: bad}})
			_, err := e.m.Lookup(ctx, cred.KeyID)
			notRejection(t, err)
		}
	})

	t.Run("a replaced secret tampered with", func(t *testing.T) {
		e := newCredEnv(t)
		_, cred := e.create(t, httpsig.CreateParams{})
		_, _, err := e.m.Rotate(ctx, cred.KeyID, time.Hour)
		require.NoError(t, err)
		secrets := credSealed(t, e.store, cred.KeyID).Secrets
		secrets[1].Sealed[20] ^= 1
		credReplaceSecrets(t, e.store, cred.KeyID, secrets)
		_, err = e.m.Lookup(ctx, cred.KeyID)
		notRejection(t, err)
	})

	t.Run("moved to another key ID", func(t *testing.T) {
		e := newCredEnv(t)
		_, a := e.create(t, httpsig.CreateParams{})
		_, b := e.create(t, httpsig.CreateParams{})
		credReplaceSecrets(t, e.store, b.KeyID, credSealed(t, e.store, a.KeyID).Secrets)
		_, err := e.m.Lookup(ctx, b.KeyID)
		notRejection(t, err)
		// Appended beside b's own secret, it does not open either.
		both := append(credSealed(t, e.store, b.KeyID).Secrets, httpsig.StoredSecret{Sealed: credSealed(t, e.store, a.KeyID).Secrets[0].Sealed, NotAfter: credT0.Add(time.Hour)})
		credReplaceSecrets(t, e.store, b.KeyID, both)
		_, err = e.m.Lookup(ctx, b.KeyID)
		notRejection(t, err)
	})

	t.Run("no valid secret", func(t *testing.T) {
		e := newCredEnv(t)
		_, cred := e.create(t, httpsig.CreateParams{})
		credReplaceSecrets(t, e.store, cred.KeyID, nil)
		_, err := e.m.Lookup(ctx, cred.KeyID)
		assert.ErrorIs(t, err, httpsig.ErrInvalidState)
	})
}

// TestLookupOrdersCurrentFirst stores the current secret after a replaced
// one, as a backend might return them: Lookup still puts it first.
func TestLookupOrdersCurrentFirst(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	first, cred := e.create(t, httpsig.CreateParams{})
	second, _, err := e.m.Rotate(ctx, cred.KeyID, time.Hour)
	require.NoError(t, err)
	secrets := credSealed(t, e.store, cred.KeyID).Secrets
	credReplaceSecrets(t, e.store, cred.KeyID, []httpsig.StoredSecret{secrets[1], secrets[0]})
	active, err := e.m.Lookup(ctx, cred.KeyID)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{second.Reveal(), first.Reveal()}, active.Secrets)
}

func TestSecretRedactsItself(t *testing.T) {
	e := newCredEnv(t)
	s, _ := e.create(t, httpsig.CreateParams{})
	plain := s.Reveal()
	type carrier struct {
		Exported   httpsig.Secret
		unexported httpsig.Secret
		Ptr        *httpsig.Secret
	}
	c := carrier{s, s, &s}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("created", "secret", s, "carrier", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("created", "secret", s, "ptr", &s)
	j, err := json.Marshal(c)
	require.NoError(t, err)
	jp, err := json.Marshal(map[string]any{"s": s, "p": &s})
	require.NoError(t, err)
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", c, c, c), fmt.Sprintf("%v %+v", &c, []httpsig.Secret{s}),
		fmt.Sprint(map[string]httpsig.Secret{"s": s}), s.String(), s.GoString(),
		logs.String(), string(j), string(jp),
	}
	// fmt prints an unexported field by reflection, without its methods,
	// and a wrong verb through a fallback: try them all.
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%p", "%T"} {
		for _, v := range []any{s, &s, c, &c, []carrier{c}, map[string]carrier{"c": c}, struct{ s httpsig.Secret }{s}} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
	}
	forms := map[string]string{
		"base64":        s.Base64(),
		"base64 tail":   s.Base64()[60:],
		"hex":           hex.EncodeToString(plain)[:32],
		"HEX":           strings.ToUpper(hex.EncodeToString(plain)[:32]),
		"decimal bytes": strings.Trim(fmt.Sprint(plain[:8]), "[]"),
		"raw":           string(plain[:12]),
		"quoted":        strings.Trim(fmt.Sprintf("%q", plain[:12]), `"`),
	}
	for _, out := range outputs {
		for name, form := range forms {
			assert.NotContains(t, out, form, "%s of the secret in %q", name, out)
		}
	}
	assert.Equal(t, s.KeyID()+"[REDACTED]", s.String())
	assert.Equal(t, "httpsig.Secret("+s.KeyID()+"[REDACTED])", fmt.Sprintf("%#v", s))
	assert.JSONEq(t, `"`+s.KeyID()+`[REDACTED]"`, string(mustJSON(t, s)))

	var zero httpsig.Secret
	assert.Nil(t, zero.Reveal())
	assert.Equal(t, "", zero.Base64())
	assert.Equal(t, "", zero.String())
	assert.Equal(t, "", zero.KeyID())
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestManagerUnprintable: printing a Manager by reflection shows no key
// material (the AEAD, whose state holds the expanded master key, sits
// behind a function value).
func TestManagerUnprintable(t *testing.T) {
	key := make([]byte, httpsig.MasterKeyLen)
	for i := range key {
		key[i] = byte(0xa0 + i)
	}
	m, err := httpsig.NewManager(httpsig.Config{MasterKey: key})
	require.NoError(t, err)
	type holder struct{ m httpsig.Manager }
	out := fmt.Sprintf("%v %+v %#v %v %+v %#v", m, m, m, holder{*m}, holder{*m}, holder{*m})
	for _, form := range []string{hex.EncodeToString(key[:8]), strings.Trim(fmt.Sprint(key[:6]), "[]"), fmt.Sprintf("%#x", key[:6])[2:]} {
		assert.NotContains(t, out, form)
	}
}

// TestManagerConcurrent creates, looks up, rotates and revokes credentials
// from many goroutines (run it with -race). A lookup after a revocation
// has returned never succeeds.
func TestManagerConcurrent(t *testing.T) {
	m, err := httpsig.NewManager(httpsig.Config{MasterKey: credMasterKey(3)})
	require.NoError(t, err)
	ctx := context.Background()
	const workers, each = 8, 25
	var wg sync.WaitGroup
	var lookups atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				secret, cred, err := m.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: fmt.Sprintf("acct_%d", w%3), Mode: keygate.ModeTest}})
				if !assert.NoError(t, err) {
					return
				}
				// Readers race the rotation and revocation below.
				stop := make(chan struct{})
				var readers sync.WaitGroup
				for r := 0; r < 2; r++ {
					readers.Add(1)
					go func() {
						defer readers.Done()
						for { // at least one lookup, however the goroutines are scheduled
							active, err := m.Lookup(ctx, cred.KeyID)
							lookups.Add(1)
							if err != nil {
								assert.ErrorIs(t, err, httpsig.ErrRevoked)
							} else {
								assert.Equal(t, cred.KeyID, active.KeyID)
								assert.NotEmpty(t, active.Secrets)
							}
							select {
							case <-stop:
								return
							default:
							}
						}
					}()
				}
				active, err := m.Lookup(ctx, cred.KeyID)
				assert.NoError(t, err)
				assert.Equal(t, [][]byte{secret.Reveal()}, active.Secrets)
				_, _, err = m.Rotate(ctx, cred.KeyID, time.Hour)
				assert.NoError(t, err)
				_, err = m.Revoke(ctx, cred.KeyID)
				assert.NoError(t, err)
				_, err = m.Lookup(ctx, cred.KeyID)
				assert.ErrorIs(t, err, httpsig.ErrRevoked, "the very next lookup after Revoke")
				close(stop)
				readers.Wait()
			}
		}(w)
	}
	// Concurrent management calls on one credential: every one lands.
	_, shared, err := m.Create(ctx, httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_shared", Mode: keygate.ModeLive}})
	require.NoError(t, err)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				_, err := m.Disable(ctx, shared.KeyID)
				assert.NoError(t, err)
				_, err = m.Enable(ctx, shared.KeyID)
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	final, err := m.Get(ctx, shared.KeyID)
	require.NoError(t, err)
	assert.Equal(t, int64(1+workers*10*2), final.Version, "every disable and enable landed")
	assert.False(t, final.Disabled)
	total := 0
	for a := 0; a < 3; a++ {
		cs, err := m.List(ctx, httpsig.ListFilter{Account: fmt.Sprintf("acct_%d", a)})
		require.NoError(t, err)
		total += len(cs)
	}
	assert.Equal(t, workers*each, total)
	assert.Positive(t, lookups.Load())
}

// TestManagerConflictGivesUp: a store that always reports a conflict makes
// a management call fail with ErrConflict after a bounded number of
// retries, never loop forever.
func TestManagerConflictGivesUp(t *testing.T) {
	mem := httpsig.NewMemoryCredentialStore()
	store := &credConflictingStore{MemoryCredentialStore: mem}
	m, err := httpsig.NewManager(httpsig.Config{Store: store, MasterKey: credMasterKey(2)})
	require.NoError(t, err)
	_, cred, err := m.Create(context.Background(), httpsig.CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
	require.NoError(t, err)
	_, err = m.Revoke(context.Background(), cred.KeyID)
	assert.ErrorIs(t, err, httpsig.ErrConflict)
	assert.Greater(t, store.updates.Load(), int64(1), "it retried")
	assert.Less(t, store.updates.Load(), int64(100), "it gave up")
}

type credConflictingStore struct {
	*httpsig.MemoryCredentialStore
	updates atomic.Int64
}

func (s *credConflictingStore) Update(context.Context, httpsig.Credential) (httpsig.Credential, error) {
	s.updates.Add(1)
	return httpsig.Credential{}, fmt.Errorf("%w: always", httpsig.ErrConflict)
}

// BenchmarkManagerLookup measures what the verifier pays per request for
// the credential: a memory-store read and one AES-256-GCM decryption.
func BenchmarkManagerLookup(b *testing.B) {
	m, err := httpsig.NewManager(httpsig.Config{MasterKey: credMasterKey(5)})
	require.NoError(b, err)
	_, cred, err := m.Create(context.Background(), httpsig.CreateParams{
		Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest, Package: "GO", Permissions: []string{"products:read"}, Stores: []string{"store_1"}}})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Lookup(ctx, cred.KeyID); err != nil {
			b.Fatal(err)
		}
	}
}
