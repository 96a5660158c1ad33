package jwttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/jwt"
)

// TestKeyStore runs the conformance suite of [jwt.KeyStore]: adding,
// listing oldest first, refusing a duplicate ID (also when instances race),
// isolation of the returned bytes, and cancelled contexts.
func TestKeyStore(t *testing.T, newStore func(t *testing.T) jwt.KeyStore) {
	t.Helper()
	suite[jwt.KeyStore]{
		{"add and list", testKeyStoreAddList},
		{"duplicate ID", testKeyStoreDuplicate},
		{"racing adds", testKeyStoreRace},
		{"isolation", testKeyStoreIsolation},
		{"cancelled context", testKeyStoreCancelled},
	}.run(t, newStore)
}

var keyT0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func testKeyStoreAddList(t *testing.T, s jwt.KeyStore) {
	ctx := context.Background()
	got, err := s.List(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	// Added out of order: listed by Created, then ID.
	for _, k := range []jwt.StoredKey{
		{ID: "k3", Sealed: []byte("three"), Created: keyT0.Add(2 * time.Hour)},
		{ID: "k1", Sealed: []byte("one"), Created: keyT0},
		{ID: "k2b", Sealed: []byte("two b"), Created: keyT0.Add(time.Hour)},
		{ID: "k2a", Sealed: []byte("two a"), Created: keyT0.Add(time.Hour)},
	} {
		if err := s.Add(ctx, k); err != nil {
			t.Fatalf("Add(%s): %v", k.ID, err)
		}
	}
	got, err = s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range got {
		ids = append(ids, k.ID)
	}
	if fmt.Sprint(ids) != "[k1 k2a k2b k3]" {
		t.Fatalf("order: %v, want [k1 k2a k2b k3]", ids)
	}
	if !bytes.Equal(got[0].Sealed, []byte("one")) || !got[0].Created.Equal(keyT0) {
		t.Fatalf("k1 read back as %+v", got[0])
	}
}

func testKeyStoreDuplicate(t *testing.T, s jwt.KeyStore) {
	ctx := context.Background()
	if err := s.Add(ctx, jwt.StoredKey{ID: "k", Sealed: []byte("first"), Created: keyT0}); err != nil {
		t.Fatal(err)
	}
	err := s.Add(ctx, jwt.StoredKey{ID: "k", Sealed: []byte("second"), Created: keyT0.Add(time.Minute)})
	if !errors.Is(err, jwt.ErrExists) {
		t.Fatalf("second Add of the same ID: %v, want ErrExists", err)
	}
	got, err := s.List(ctx)
	if err != nil || len(got) != 1 || string(got[0].Sealed) != "first" {
		t.Fatalf("after the duplicate: %+v, %v", got, err)
	}
}

func testKeyStoreRace(t *testing.T, s jwt.KeyStore) {
	ctx := context.Background()
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.Add(ctx, jwt.StoredKey{ID: "first", Sealed: []byte{byte(i)}, Created: keyT0})
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, jwt.ErrExists):
			t.Errorf("racing Add: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racing Adds succeeded, want exactly 1", won)
	}
	if got, err := s.List(ctx); err != nil || len(got) != 1 {
		t.Fatalf("after the race: %d keys, %v", len(got), err)
	}
}

func testKeyStoreIsolation(t *testing.T, s jwt.KeyStore) {
	ctx := context.Background()
	sealed := []byte("sealed")
	if err := s.Add(ctx, jwt.StoredKey{ID: "k", Sealed: sealed, Created: keyT0}); err != nil {
		t.Fatal(err)
	}
	sealed[0] = 'X'
	got, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got[0].Sealed[1] = 'Y'
	again, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(again[0].Sealed) != "sealed" {
		t.Fatalf("stored bytes changed through the caller's slices: %q", again[0].Sealed)
	}
}

func testKeyStoreCancelled(t *testing.T, s jwt.KeyStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Add(ctx, jwt.StoredKey{ID: "k", Sealed: []byte("x"), Created: keyT0}); err == nil {
		t.Error("Add with a cancelled context succeeded")
	}
	if _, err := s.List(ctx); err == nil {
		t.Error("List with a cancelled context succeeded")
	}
}
