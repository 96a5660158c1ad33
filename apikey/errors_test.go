package apikey_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/apikey"
)

// TestRejectionsWrapErrKeyInvalid: every rejection of a presented key is
// one errors.Is away from ErrKeyInvalid, keeps its own identity and its
// message; the other errors are not rejections.
func TestRejectionsWrapErrKeyInvalid(t *testing.T) {
	for _, c := range []struct {
		err error
		msg string
	}{
		{apikey.ErrMalformed, "apikey: malformed key"},
		{apikey.ErrUnknownKey, "apikey: invalid key"},
		{apikey.ErrRevoked, "apikey: key revoked"},
		{apikey.ErrExpired, "apikey: key expired"},
		{apikey.ErrDisabled, "apikey: key disabled"},
		{apikey.ErrPendingReview, "apikey: key pending review"},
	} {
		wrapped := fmt.Errorf("context: %w", c.err)
		assert.ErrorIs(t, wrapped, apikey.ErrKeyInvalid, c.msg)
		assert.ErrorIs(t, wrapped, c.err, c.msg)
		assert.Equal(t, c.msg, c.err.Error())
	}
	for _, err := range []error{apikey.ErrNotFound, apikey.ErrConflict, apikey.ErrInvalidParams, apikey.ErrInvalidState, errors.New("store down")} {
		assert.NotErrorIs(t, err, apikey.ErrKeyInvalid, err.Error())
	}
	assert.NotErrorIs(t, apikey.ErrRevoked, apikey.ErrExpired, "the specific errors stay distinct")
}

// TestParseErrorIsErrKeyInvalid: the reasons Parse gives are rejections too.
func TestParseErrorIsErrKeyInvalid(t *testing.T) {
	_, err := apikey.Parse("not a key")
	assert.ErrorIs(t, err, apikey.ErrMalformed)
	assert.ErrorIs(t, err, apikey.ErrKeyInvalid)
}
