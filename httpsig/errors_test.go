package httpsig_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/httpsig"
)

// TestRejectionsWrapUmbrellas: every rejection of a signed request wraps
// ErrRequestInvalid, every rejection of a key ID ErrCredentialInvalid, and
// each keeps its own identity.
func TestRejectionsWrapUmbrellas(t *testing.T) {
	for _, err := range []error{httpsig.ErrMalformed, httpsig.ErrMissingComponent, httpsig.ErrNonCanonical, httpsig.ErrMisdirected,
		httpsig.ErrStale, httpsig.ErrInvalidSignature, httpsig.ErrDigest, httpsig.ErrReplayed, httpsig.ErrBodyTooLarge} {
		wrapped := fmt.Errorf("context: %w", err)
		assert.ErrorIs(t, wrapped, httpsig.ErrRequestInvalid, err.Error())
		assert.NotErrorIs(t, wrapped, httpsig.ErrCredentialInvalid, err.Error())
		assert.ErrorIs(t, wrapped, err, err.Error())
	}
	for _, err := range []error{httpsig.ErrNotFound, httpsig.ErrRevoked, httpsig.ErrExpired, httpsig.ErrDisabled} {
		wrapped := fmt.Errorf("context: %w", err)
		assert.ErrorIs(t, wrapped, httpsig.ErrCredentialInvalid, err.Error())
		assert.NotErrorIs(t, wrapped, httpsig.ErrRequestInvalid, err.Error())
		assert.ErrorIs(t, wrapped, err, err.Error())
	}
	assert.Equal(t, "httpsig: replayed request", httpsig.ErrReplayed.Error())
	for _, err := range []error{httpsig.ErrNoSignature, httpsig.ErrNonceQuota, httpsig.ErrInvalidParams, httpsig.ErrConflict, errors.New("store down")} {
		assert.NotErrorIs(t, err, httpsig.ErrRequestInvalid, err.Error())
		assert.NotErrorIs(t, err, httpsig.ErrCredentialInvalid, err.Error())
	}
}
