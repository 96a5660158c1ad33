package console

import (
	"net/netip"
	"strings"
	"testing"
)

func TestSignInKeysHoldNoName(t *testing.T) {
	const typed = "correct-horse-battery" // a password typed as the username
	keys := signInKeys(typed, netip.MustParseAddr("2001:db8::1"))
	for _, k := range keys {
		if strings.Contains(k, typed) {
			t.Errorf("limiter key %q holds the typed name", k)
		}
	}
	if !strings.HasPrefix(keys[0], "2001:db8:: ") {
		t.Errorf("key %q is not counted under the client's /64", keys[0])
	}
	if other := signInKeys(typed+"x", netip.MustParseAddr("2001:db8::1")); other == keys {
		t.Error("two names share their keys")
	}
}
