package keygate_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keygate/keygate"
)

func TestMultiChangeFunc(t *testing.T) {
	assert.Nil(t, keygate.MultiChangeFunc(), "none")
	assert.Nil(t, keygate.MultiChangeFunc(nil, nil), "only nils")
	var got []string
	record := func(name string) keygate.ChangeFunc {
		return func(_ context.Context, c keygate.Change) { got = append(got, name+":"+c.KeyID) }
	}
	keygate.MultiChangeFunc(nil, record("a"))(context.Background(), keygate.Change{KeyID: "k1"})
	keygate.MultiChangeFunc(record("a"), nil, record("b"))(context.Background(), keygate.Change{KeyID: "k2"})
	assert.Equal(t, []string{"a:k1", "a:k2", "b:k2"}, got)
}

func TestActorFromContext(t *testing.T) {
	ctx := context.Background()
	assert.Empty(t, keygate.ActorFromContext(ctx))
	withKey := keygate.NewContext(ctx, keygate.Principal{KeyID: "k", Subject: "s"})
	assert.Equal(t, "k", keygate.ActorFromContext(withKey))
	assert.Equal(t, "s", keygate.ActorFromContext(keygate.NewContext(ctx, keygate.Principal{Subject: "s"})))
	assert.Equal(t, "admin", keygate.ActorFromContext(keygate.WithActor(withKey, "admin")), "an explicit actor wins")
	assert.Equal(t, "k", keygate.ActorFromContext(keygate.WithActor(withKey, "")), "an empty one does not")
}
