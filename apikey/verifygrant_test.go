package apikey

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keygate/keygate"
)

// wrappedStore hides the MemoryStore from Manager.get, so that the
// Manager reads records through Store.Get, as it does every store but the
// memory and cached ones (and as Verify did before their in-place reads).
type wrappedStore struct{ Store }

// TestVerifyGrantMatchesVerify is a differential test of the verification
// paths: for keys of every outcome (wrong prefix, bad checksum, unknown ID,
// a replaced secret past its NotAfter, mode and kind mismatches, revoked,
// expired, disabled, pending and odd records, rare records whose times or
// codes sit aside), Verify and VerifyGrant on the memory store (read in
// place, only what verification needs), through Store.Get and through a
// CachedStore (one copy out of its memory) give the same error, or the same ID, kind and grant; and the key's use is noted
// only on success.
func TestVerifyGrantMatchesVerify(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := NewMemoryStore()
	seed, err := NewManager(Config{Store: store, Now: clock})
	require.NoError(t, err)
	defer seed.Close(context.Background())

	type tc struct {
		name string
		key  string
	}
	var cases []tc
	// add stores a record for a fresh key of mode and kind, changed by
	// change, and returns the key (whose hash the record holds).
	add := func(name string, mode keygate.Mode, kind keygate.Kind, change func(r *Record, k Key)) Key {
		k := mint(defaultPrefix(seed), mode, kind, newKeyID())
		r := Record{ID: k.ID(), Kind: kind, Status: StatusActive, Created: now.Add(-time.Hour), CreatedBy: "c", PermissionsSetBy: "c",
			Grant:  keygate.Grant{Account: "acct_1", Mode: mode, Package: "GO", Stores: []string{"s1", "s2"}, Permissions: []string{"products:read"}},
			Hashes: []Hash{{Sum: seed.hash(k.Reveal())}}}
		if change != nil {
			change(&r, k)
		}
		_, err := store.Create(context.Background(), r)
		require.NoError(t, err)
		cases = append(cases, tc{name, k.Reveal()})
		return k
	}
	add("active", keygate.ModeTest, keygate.KindSecret, nil)
	add("publishable live", keygate.ModeLive, keygate.KindPublishable, nil)
	add("origin rules", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) {
		r.AllowedIPs, r.DeniedCountries = []string{"192.0.2.0/24"}, []string{"KP"}
	})
	add("expires after 2262", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) {
		r.Expires = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	})
	add("expired after 2262 clock aside", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) {
		r.Created = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) // times in memExtra
		r.Expires = now.Add(-time.Second)
	})
	add("expires later", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Expires = now.Add(time.Second) })
	add("expires now", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Expires = now })
	add("revoked", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Status, r.RevokedAt = StatusRevoked, now })
	add("revoked and expired", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) {
		r.Status, r.Expires = StatusRevoked, now.Add(-time.Hour)
	})
	add("disabled", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Disabled = true })
	add("disabled and expired", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) {
		r.Disabled, r.Expires = true, now.Add(-time.Hour)
	})
	add("pending", keygate.ModeLive, keygate.KindSecret, func(r *Record, _ Key) { r.Status = StatusPendingReview })
	add("pending and disabled", keygate.ModeLive, keygate.KindSecret, func(r *Record, _ Key) {
		r.Status, r.Disabled = StatusPendingReview, true
	})
	add("odd status", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Status = "weird" })
	add("stored mode differs", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Mode = keygate.ModeLive })
	add("stored kind differs", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Kind = keygate.KindPublishable })
	add("stored mode unknown", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Mode = "staging" })
	add("replaced secret past NotAfter", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) {
		r.Hashes = []Hash{{Sum: [32]byte{1}}, {Sum: r.Hashes[0].Sum, NotAfter: now}}
	})
	add("replaced secret within grace", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) {
		r.Hashes = []Hash{{Sum: [32]byte{1}}, {Sum: r.Hashes[0].Sum, NotAfter: now.Add(time.Nanosecond)}}
	})
	add("no hash", keygate.ModeTest, keygate.KindSecret, func(r *Record, _ Key) { r.Hashes = nil })
	k := add("for the malformed ones", keygate.ModeTest, keygate.KindSecret, nil)
	good := k.Reveal()
	last := good[len(good)-1]
	bad := byte('0')
	if last == bad {
		bad = '1'
	}
	cases = append(cases,
		tc{"bad checksum", good[:len(good)-1] + string(bad)},
		tc{"wrong prefix", mint("other", keygate.ModeTest, keygate.KindSecret, k.ID()).Reveal()},
		tc{"unknown ID", mint(defaultPrefix(seed), keygate.ModeTest, keygate.KindSecret, newKeyID()).Reveal()},
		tc{"other secret", mint(defaultPrefix(seed), keygate.ModeTest, keygate.KindSecret, k.ID()).Reveal()},
		tc{"other mode", mint(defaultPrefix(seed), keygate.ModeLive, keygate.KindSecret, k.ID()).Reveal()},
		tc{"empty", ""},
		tc{"garbage", "not a key"},
	)

	successes := 0
	for _, c := range cases {
		type outcome struct {
			id   string
			kind keygate.Kind
			g    keygate.Grant
			err  string
			used bool
		}
		var outs []outcome
		// A CachedStore of its own per case, so that no case reads
		// another's cached record.
		for _, s := range []Store{store, wrappedStore{store}, NewCachedStore(store, CacheConfig{})} {
			for _, grant := range []bool{false, true} {
				m, err := NewManager(Config{Store: s, Now: clock})
				require.NoError(t, err)
				var o outcome
				if grant {
					g := keygate.Grant{Account: "left as it was"}
					o.id, o.kind, err = m.VerifyGrant(context.Background(), c.key, &g)
					if err != nil {
						assert.Equal(t, keygate.Grant{Account: "left as it was"}, g, "%s: the grant on an error", c.name)
					} else {
						o.g = g
					}
				} else {
					var rec Record
					rec, err = m.Verify(context.Background(), c.key)
					o.id, o.kind, o.g = rec.ID, rec.Kind, rec.Grant
				}
				if err != nil {
					o.err = err.Error()
				}
				if info, perr := Parse(c.key); perr == nil {
					_, o.used = m.usage.seen.Load(info.ID)
				}
				m.Close(context.Background())
				outs = append(outs, o)
			}
		}
		for i := 1; i < len(outs); i++ {
			assert.Equal(t, fmt.Sprintf("%#v", outs[0]), fmt.Sprintf("%#v", outs[i]), "%s: path %d", c.name, i)
		}
		assert.Equal(t, outs[0].err == "", outs[0].used, "%s: use noted (%s)", c.name, outs[0].err)
		if outs[0].err == "" {
			successes++
		}
	}
	assert.Equal(t, 7, successes, "the keys that verify")

	// A store failure (here a done context) errs alike on both paths.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var errs []string
	for _, s := range []Store{store, wrappedStore{store}, NewCachedStore(store, CacheConfig{})} {
		m, err := NewManager(Config{Store: s, Now: clock})
		require.NoError(t, err)
		_, err = m.Verify(ctx, good)
		require.Error(t, err)
		errs = append(errs, err.Error())
		var g keygate.Grant
		_, _, err = m.VerifyGrant(ctx, good, &g)
		require.Error(t, err)
		errs = append(errs, err.Error())
		m.Close(context.Background())
	}
	assert.Equal(t, []string{errs[0], errs[0], errs[0], errs[0], errs[0], errs[0]}, errs)
	assert.Equal(t, "apikey: verify: context canceled", errs[0])
}

// defaultPrefix is m's key prefix.
func defaultPrefix(m *Manager) string { return m.prefix }
