package httpsig

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// TestSecretCacheOpensOnce proves the cache is used: after the first
// Lookup, the manager's master key is swapped for another one, which
// opens nothing. A cached Lookup still succeeds; an uncached one, or one
// after a rotation (new sealed bytes), fails with ErrUnseal; a revocation
// drops the entry.
func TestSecretCacheOpensOnce(t *testing.T) {
	ctx := context.Background()
	for _, entries := range []int{0, -1} {
		m, err := NewManager(Config{MasterKey: bytes.Repeat([]byte{7}, MasterKeyLen), SecretCacheEntries: entries})
		if err != nil {
			t.Fatal(err)
		}
		secret, cred, err := m.Create(ctx, CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lookup(ctx, cred.KeyID); err != nil {
			t.Fatal(err)
		}
		good := m.sealer
		m.sealer, _ = newSealer(bytes.Repeat([]byte{8}, MasterKeyLen))
		a, err := m.Lookup(ctx, cred.KeyID)
		if entries < 0 {
			if err == nil {
				t.Fatal("without the cache, Lookup opened a secret under another master key")
			}
			continue
		}
		if err != nil || len(a.Secrets) != 1 || !bytes.Equal(a.Secrets[0], secret.Reveal()) {
			t.Fatalf("cached Lookup: %v, %d secrets", err, len(a.Secrets))
		}
		// A rotation stores new sealed bytes: they are opened afresh, and
		// fail to under the wrong master key.
		m.sealer = good
		if _, _, err := m.Rotate(ctx, cred.KeyID, time.Hour); err != nil {
			t.Fatal(err)
		}
		m.sealer, _ = newSealer(bytes.Repeat([]byte{8}, MasterKeyLen))
		if _, err := m.Lookup(ctx, cred.KeyID); !errors.Is(err, ErrUnseal) {
			t.Fatalf("Lookup after a rotation: %v, want ErrUnseal", err)
		}
		m.sealer = good
		if _, err := m.Lookup(ctx, cred.KeyID); err != nil {
			t.Fatal(err)
		}
		if n := len(m.secrets.m[cred.KeyID]); n != 2 {
			t.Fatalf("%d cached secrets after a rotation with grace, want 2", n)
		}
		if _, err := m.Revoke(ctx, cred.KeyID); err != nil {
			t.Fatal(err)
		}
		if _, ok := m.secrets.m[cred.KeyID]; ok {
			t.Fatal("the revoked credential's secrets stay cached")
		}
	}
}

// TestSecretCacheBound checks that the cache holds at most its bound.
func TestSecretCacheBound(t *testing.T) {
	ctx := context.Background()
	m, err := NewManager(Config{MasterKey: bytes.Repeat([]byte{7}, MasterKeyLen), SecretCacheEntries: 3})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_, cred, err := m.Create(ctx, CreateParams{Grant: keygate.Grant{Account: "acct_1", Mode: keygate.ModeTest}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lookup(ctx, cred.KeyID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Lookup(ctx, "hk_unknown"); err == nil {
			t.Fatal("an unknown key ID was found")
		}
		if n := len(m.secrets.m); n > 3 {
			t.Fatalf("%d cached credentials, bound 3", n)
		}
	}
}
