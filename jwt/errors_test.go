package jwt_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/jwt"
)

// TestRejectionsWrapErrTokenInvalid: every rejection of an access token is
// one errors.Is away from ErrTokenInvalid and keeps its own identity; the
// errors of keys, configuration, stores and the other token families are
// not access-token rejections.
func TestRejectionsWrapErrTokenInvalid(t *testing.T) {
	for _, err := range []error{jwt.ErrMalformed, jwt.ErrUnsupportedHeader, jwt.ErrUnknownKey, jwt.ErrAlgorithm,
		jwt.ErrSignature, jwt.ErrType, jwt.ErrMissingClaim, jwt.ErrExpired, jwt.ErrNotYetValid, jwt.ErrIssuer,
		jwt.ErrAudience, jwt.ErrRevoked} {
		wrapped := fmt.Errorf("context: %w", err)
		assert.ErrorIs(t, wrapped, jwt.ErrTokenInvalid, err.Error())
		assert.ErrorIs(t, wrapped, err, err.Error())
	}
	assert.Equal(t, "jwt: token expired", jwt.ErrExpired.Error())
	for _, err := range []error{jwt.ErrWeakKey, jwt.ErrInvalidConfig, jwt.ErrInvalidParams, jwt.ErrRefreshInvalid,
		jwt.ErrRefreshExpired, jwt.ErrOneTimeInvalid, jwt.ErrOneTimeQuota, errors.New("store down")} {
		assert.NotErrorIs(t, err, jwt.ErrTokenInvalid, err.Error())
	}
	assert.NotErrorIs(t, jwt.ErrExpired, jwt.ErrRevoked, "the specific errors stay distinct")
}
