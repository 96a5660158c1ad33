package middleware_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate/apikey"
	"github.com/keygate/keygate/httpsig"
	"github.com/keygate/keygate/jwt"
	"github.com/keygate/keygate/middleware"
)

// TestClassifyUmbrellas: a rejection known only by its family's umbrella
// is a 401, never the 503 of an unknown error; the specific rejections keep
// their own descriptions.
func TestClassifyUmbrellas(t *testing.T) {
	for _, c := range []struct {
		err         error
		code        string
		description string
	}{
		{fmt.Errorf("new reason: %w", apikey.ErrKeyInvalid), middleware.CodeInvalidToken, "the API key is invalid"},
		{fmt.Errorf("new reason: %w", jwt.ErrTokenInvalid), middleware.CodeInvalidToken, "the access token is invalid"},
		{apikey.ErrRevoked, middleware.CodeInvalidToken, "the API key has been revoked"},
		{apikey.ErrUnknownKey, middleware.CodeInvalidToken, "the API key is invalid"},
		{jwt.ErrExpired, middleware.CodeInvalidToken, "the access token has expired"},
		{jwt.ErrAudience, middleware.CodeInvalidToken, "the access token is invalid"},
		{httpsig.ErrReplayed, middleware.CodeReplayed, "this request was already accepted"},
	} {
		f := middleware.Classify(c.err)
		assert.Equal(t, http.StatusUnauthorized, f.Status, c.err.Error())
		assert.Equal(t, c.code, f.Code, c.err.Error())
		assert.Equal(t, c.description, f.Description, c.err.Error())
	}
}
