package middleware

import (
	"context"

	"github.com/keygate/keygate/apikey"
)

// nopVerifier refuses every key; for tests that never verify one.
type nopVerifier struct{}

func (nopVerifier) Verify(context.Context, string) (apikey.Record, error) {
	return apikey.Record{}, apikey.ErrUnknownKey
}
