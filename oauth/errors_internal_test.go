package oauth

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/middleware"
)

// TestTooManyRequestsWrapSentinels: the token endpoint's 429 errors wrap
// the middleware's exported sentinels, so that errors.Is recognises them
// wherever they travel.
func TestTooManyRequestsWrapSentinels(t *testing.T) {
	for _, d := range []string{addressDescription, userDescription} {
		err := tooManyFailures(time.Minute, d)
		assert.ErrorIs(t, err, middleware.ErrTooManyFailures, d)
		assert.NotErrorIs(t, err, middleware.ErrRateLimited, d)
		assert.Equal(t, "too_many_failures", err.code)
	}
	err := rateLimited(fmt.Errorf("over the policy: %w", middleware.ErrRateLimited))
	assert.ErrorIs(t, err, middleware.ErrRateLimited)
	assert.NotErrorIs(t, err, middleware.ErrTooManyFailures)
	assert.Equal(t, "rate_limited", err.code)
}
