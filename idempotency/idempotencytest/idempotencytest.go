// Package idempotencytest is the conformance suite for
// [idempotency.Store] implementations. Every backend runs it:
//
//	func TestStore(t *testing.T) {
//		idempotencytest.TestStore(t, func(t *testing.T) idempotency.Store { return newMyStore(t) })
//	}
package idempotencytest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/idempotency"
)

// TestIdempotencyStore runs the conformance suite against stores made by
// newStore, which must return an empty store for each call. It does not
// test retention or the lapse of reservations, which depend on each
// store's clock and settings.
func TestStore(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, idempotency.Store)
	}{
		{"ReserveFresh", testReserveFresh},
		{"ReservePending", testReservePending},
		{"CompleteThenReplay", testComplete},
		{"ReleasePending", testRelease},
		{"ReleaseCompletedKeepsIt", testReleaseCompleted},
		{"CompleteUnknownCreatesNothing", testCompleteUnknown},
		{"CompleteTwiceKeepsFirst", testCompleteTwice},
		{"KeysAreIndependent", testIndependent},
		{"Isolation", testIsolation},
		{"CancelledContext", testCancelled},
		{"ConcurrentReserveOneWinner", testConcurrentReserve},
		{"LongKeys", testLongKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

var (
	fp1 = bytes.Repeat([]byte{0xa1}, 32)
	fp2 = bytes.Repeat([]byte{0xb2}, 32)
)

func reserve(t *testing.T, s idempotency.Store, key string, fp []byte) (idempotency.Entry, bool) {
	t.Helper()
	e, ok, err := s.Reserve(context.Background(), key, fp)
	if err != nil {
		t.Fatalf("Reserve(%q): %v", key, err)
	}
	return e, ok
}

func complete(t *testing.T, s idempotency.Store, key string, status int, body string) {
	t.Helper()
	if err := s.Complete(context.Background(), key, status, []byte(body)); err != nil {
		t.Fatalf("Complete(%q): %v", key, err)
	}
}

func release(t *testing.T, s idempotency.Store, key string) {
	t.Helper()
	if err := s.Release(context.Background(), key); err != nil {
		t.Fatalf("Release(%q): %v", key, err)
	}
}

func testReserveFresh(t *testing.T, s idempotency.Store) {
	if e, ok := reserve(t, s, "k", fp1); !ok || e.Done {
		t.Fatalf("fresh key: got (%+v, %v), want reserved", e, ok)
	}
}

func testReservePending(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fp1)
	for _, fp := range [][]byte{fp1, fp2} {
		e, ok := reserve(t, s, "k", fp)
		if ok {
			t.Fatal("a pending key was reserved twice")
		}
		if e.Done || !bytes.Equal(e.Fingerprint, fp1) {
			t.Fatalf("pending entry: got %+v, want not done with the first fingerprint", e)
		}
	}
}

func testComplete(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fp1)
	complete(t, s, "k", 201, `{"id":"x"}`)
	for _, fp := range [][]byte{fp1, fp2} {
		e, ok := reserve(t, s, "k", fp)
		if ok {
			t.Fatal("a completed key was reserved again")
		}
		if !e.Done || e.Status != 201 || string(e.Body) != `{"id":"x"}` || !bytes.Equal(e.Fingerprint, fp1) {
			t.Fatalf("completed entry: got %+v", e)
		}
	}
}

func testRelease(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fp1)
	release(t, s, "k")
	if _, ok := reserve(t, s, "k", fp2); !ok {
		t.Fatal("a released key could not be reserved again")
	}
	if e, _ := reserve(t, s, "k", fp1); !bytes.Equal(e.Fingerprint, fp2) {
		t.Fatalf("after release and a new reservation: fingerprint %x, want the new one", e.Fingerprint)
	}
}

func testReleaseCompleted(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fp1)
	complete(t, s, "k", 200, "{}")
	release(t, s, "k")
	if e, ok := reserve(t, s, "k", fp1); ok || !e.Done {
		t.Fatalf("Release forgot a completed key: got (%+v, %v)", e, ok)
	}
	release(t, s, "unknown") // not an error
}

func testCompleteUnknown(t *testing.T, s idempotency.Store) {
	complete(t, s, "k", 200, "{}")
	if _, ok := reserve(t, s, "k", fp1); !ok {
		t.Fatal("Complete of an unreserved key created an entry")
	}
}

func testCompleteTwice(t *testing.T, s idempotency.Store) {
	reserve(t, s, "k", fp1)
	complete(t, s, "k", 201, "first")
	complete(t, s, "k", 200, "second")
	if e, _ := reserve(t, s, "k", fp1); e.Status != 201 || string(e.Body) != "first" {
		t.Fatalf("a second Complete replaced the response: got %d %q", e.Status, e.Body)
	}
}

func testIndependent(t *testing.T, s idempotency.Store) {
	reserve(t, s, "a", fp1)
	complete(t, s, "a", 201, "a")
	if _, ok := reserve(t, s, "b", fp1); !ok {
		t.Fatal("reserving a made b taken")
	}
	release(t, s, "b")
	if e, ok := reserve(t, s, "a", fp1); ok || string(e.Body) != "a" {
		t.Fatal("releasing b changed a")
	}
	// Keys that differ only in case or by a prefix are different keys.
	for _, k := range []string{"A", "a ", "aa", "1:a"} {
		if _, ok := reserve(t, s, k, fp1); !ok {
			t.Fatalf("key %q collided with a", k)
		}
	}
}

func testIsolation(t *testing.T, s idempotency.Store) {
	fp := bytes.Clone(fp1)
	reserve(t, s, "k", fp)
	fp[0] ^= 0xff // the store must have copied it
	body := []byte(`{"id":"x"}`)
	if err := s.Complete(context.Background(), "k", 201, body); err != nil {
		t.Fatal(err)
	}
	body[0] = 'X'
	e, _ := reserve(t, s, "k", fp1)
	if !bytes.Equal(e.Fingerprint, fp1) || string(e.Body) != `{"id":"x"}` {
		t.Fatalf("the store kept the caller's slices: %+v", e)
	}
	e.Body[0], e.Fingerprint[0] = 'Y', 0
	if e2, _ := reserve(t, s, "k", fp1); string(e2.Body) != `{"id":"x"}` || !bytes.Equal(e2.Fingerprint, fp1) {
		t.Fatalf("the store returned its own slices: %+v", e2)
	}
}

func testCancelled(t *testing.T, s idempotency.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Reserve(ctx, "k", fp1); err == nil {
		t.Error("Reserve with a cancelled context succeeded")
	}
	if _, ok := reserve(t, s, "k", fp1); !ok {
		t.Fatal("a failed Reserve took the key")
	}
	if err := s.Complete(ctx, "k", 200, []byte("{}")); err == nil {
		t.Error("Complete with a cancelled context succeeded")
	}
	if err := s.Release(ctx, "k"); err == nil {
		t.Error("Release with a cancelled context succeeded")
	}
}

func testConcurrentReserve(t *testing.T, s idempotency.Store) {
	const n = 32
	for round := range 4 {
		key := fmt.Sprintf("race-%d", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, ok, err := s.Reserve(context.Background(), key, fp1)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		if got := wins.Load(); got != 1 {
			t.Fatalf("round %d: %d concurrent Reserve calls succeeded, want exactly 1", round, got)
		}
	}
}

func testLongKeys(t *testing.T, s idempotency.Store) {
	// The handler's keys: the caller's ID, then the client's key of up to
	// 255 printable characters.
	long := "16:wkieipnP2E9cDwy2:" + strings.Repeat("~ !\"#$%&'()*+,-./", 15)
	reserve(t, s, long, fp1)
	complete(t, s, long, 201, "{}")
	if e, ok := reserve(t, s, long, fp1); ok || !e.Done {
		t.Fatalf("long key: got (%+v, %v)", e, ok)
	}
	if _, ok := reserve(t, s, long[:len(long)-1], fp1); !ok {
		t.Fatal("a key's prefix collided with it")
	}
}
