package hmac_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/hmac"
)

// TestRejectionsWrapUmbrellas: every rejection of a signed request wraps
// ErrRequestInvalid, every rejection of a key ID ErrCredentialInvalid, and
// each keeps its own identity.
func TestRejectionsWrapUmbrellas(t *testing.T) {
	for _, err := range []error{hmac.ErrMalformed, hmac.ErrMissingComponent, hmac.ErrNonCanonical, hmac.ErrMisdirected,
		hmac.ErrStale, hmac.ErrInvalidSignature, hmac.ErrDigest, hmac.ErrReplayed, hmac.ErrBodyTooLarge} {
		wrapped := fmt.Errorf("context: %w", err)
		assert.ErrorIs(t, wrapped, hmac.ErrRequestInvalid, err.Error())
		assert.NotErrorIs(t, wrapped, hmac.ErrCredentialInvalid, err.Error())
		assert.ErrorIs(t, wrapped, err, err.Error())
	}
	for _, err := range []error{hmac.ErrNotFound, hmac.ErrRevoked, hmac.ErrExpired, hmac.ErrDisabled} {
		wrapped := fmt.Errorf("context: %w", err)
		assert.ErrorIs(t, wrapped, hmac.ErrCredentialInvalid, err.Error())
		assert.NotErrorIs(t, wrapped, hmac.ErrRequestInvalid, err.Error())
		assert.ErrorIs(t, wrapped, err, err.Error())
	}
	assert.Equal(t, "hmac: replayed request", hmac.ErrReplayed.Error())
	for _, err := range []error{hmac.ErrNoSignature, hmac.ErrNonceQuota, hmac.ErrInvalidParams, hmac.ErrConflict, errors.New("store down")} {
		assert.NotErrorIs(t, err, hmac.ErrRequestInvalid, err.Error())
		assert.NotErrorIs(t, err, hmac.ErrCredentialInvalid, err.Error())
	}
}
