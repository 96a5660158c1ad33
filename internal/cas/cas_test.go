package cas

import (
	"errors"
	"testing"
)

var errConflict = errors.New("conflict")

func TestUpdate(t *testing.T) {
	isConflict := func(err error) bool { return errors.Is(err, errConflict) }
	// Two conflicts, then success: three reads, the change applied to the
	// last one read.
	reads, fails := 0, 2
	got, err := Update(
		func() (int, error) { reads++; return reads * 10, nil },
		func(v *int) error { *v++; return nil },
		func(v int) (int, error) {
			if fails > 0 {
				fails--
				return 0, errConflict
			}
			return v, nil
		},
		isConflict, 5)
	if err != nil || got != 31 || reads != 3 {
		t.Fatalf("got %d, %v after %d reads; want 31, nil, 3", got, err, reads)
	}
	// Conflicts beyond the retries: the conflict is returned.
	puts := 0
	_, err = Update(func() (int, error) { return 0, nil }, func(*int) error { return nil },
		func(int) (int, error) { puts++; return 0, errConflict }, isConflict, 3)
	if !errors.Is(err, errConflict) || puts != 4 {
		t.Fatalf("err %v after %d puts; want the conflict after 4", err, puts)
	}
	// A change that refuses ends it without a put.
	refused := errors.New("refused")
	_, err = Update(func() (int, error) { return 0, nil }, func(*int) error { return refused },
		func(int) (int, error) { t.Fatal("put called"); return 0, nil }, isConflict, 3)
	if !errors.Is(err, refused) {
		t.Fatalf("err %v, want refused", err)
	}
}
