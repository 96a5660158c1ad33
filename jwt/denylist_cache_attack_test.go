package jwt_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keygate/keygate/jwt"
)

// gatedDenylist lets a test choose when each IsRevoked call reads the
// shared denylist and when it returns: call i waits on before[i], reads,
// then waits on after[i].
type gatedDenylist struct {
	jwt.Denylist
	calls         chan int
	before, after [2]chan struct{}
}

func (d *gatedDenylist) IsRevoked(ctx context.Context, jti, subject, session string, iat time.Time) (bool, error) {
	i := <-d.calls
	<-d.before[i]
	revoked, err := d.Denylist.IsRevoked(ctx, jti, subject, session, iat)
	<-d.after[i]
	return revoked, err
}

// TestCachedDenylistRevokedAnswerKeptAttack: two misses for one token
// race a revocation made through another instance. The read that began
// first reads the shared denylist after the revocation (its round trip
// was slower to start) and refuses the token; the read that began second
// read it before the revocation, and ends first. Once this instance has
// refused the token, it must not accept it again from its cache: a
// "revoked" answer is never taken back (see CachedDenylist). A cache
// rule "keep the value of the read begun later", tried and dropped, kept
// the older "not revoked" answer over the newer "revoked" one, for up to
// the TTL.
func TestCachedDenylistRevokedAnswerKeptAttack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		shared := jwt.NewMemoryDenylist()
		g := &gatedDenylist{Denylist: shared, calls: make(chan int, 2)}
		for i := range 2 {
			g.before[i], g.after[i] = make(chan struct{}), make(chan struct{})
		}
		d := jwt.NewCachedDenylist(g, jwt.DenylistCacheConfig{TTL: time.Minute})
		iat := time.Now().Add(-time.Minute)
		ask := func(i int, out chan<- bool) {
			g.calls <- i
			revoked, err := d.IsRevoked(ctx, "jti-1", "alice", "", iat)
			if err != nil {
				t.Error(err)
			}
			out <- revoked
		}

		first, second := make(chan bool, 1), make(chan bool, 1)
		go ask(0, first) // begins at 0 s
		time.Sleep(time.Second)
		synctest.Wait()
		go ask(1, second) // begins at 1 s
		synctest.Wait()
		g.before[1] <- struct{}{} // the second read reads: not revoked yet
		time.Sleep(time.Second)
		if err := shared.RevokeToken(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil { // another instance
			t.Fatal(err)
		}
		g.after[1] <- struct{}{} // the second read ends first
		if <-second {
			t.Fatal("the second read saw the revocation")
		}
		g.before[0] <- struct{}{} // the first read reads now: revoked
		g.after[0] <- struct{}{}
		if !<-first {
			t.Fatal("the first read missed the revocation")
		}

		time.Sleep(time.Second)
		revoked, err := d.IsRevoked(ctx, "jti-1", "alice", "", iat)
		if err != nil {
			t.Fatal(err)
		}
		if !revoked {
			t.Error("a token this instance refused is accepted again from its cache")
		}
	})
}
