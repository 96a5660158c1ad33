// Package cas runs the read-modify-write loop of a compare-and-swap store:
// the credential managers of several packages share it.
package cas

// Update reads a record with get, lets change modify it, and stores it with
// put, a compare-and-swap that fails when another writer changed the
// record since it was read (conflict reports that error). It retries up to
// retries times after a conflict, then returns the conflict. An error from
// get or change ends it at once.
func Update[T any](get func() (T, error), change func(*T) error, put func(T) (T, error), conflict func(error) bool, retries int) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		cur, err := get()
		if err != nil {
			return zero, err
		}
		if err := change(&cur); err != nil {
			return zero, err
		}
		stored, err := put(cur)
		if err != nil && conflict(err) && attempt < retries {
			continue
		}
		if err != nil {
			return zero, err
		}
		return stored, nil
	}
}
