package oauth_test

import (
	"testing"

	"github.com/keygate/keygate/oauth"
	"github.com/keygate/keygate/oauth/oauthtest"
)

func TestMemoryUserStoreConformance(t *testing.T) {
	oauthtest.TestUserStore(t, func(*testing.T) oauth.UserStore { return oauth.NewMemoryUserStore() })
}
