// Package persist is the one vocabulary every store speaks, declared in a leaf package so the
// domain packages can name it without importing an adapter: one not-found error, one no-change
// error, one conflict error and one update-closure shape.
package persist

import "errors"

// ErrNotFound is returned when an item does not exist (or has expired).
var ErrNotFound = errors.New("not found")

// ErrNoChange is returned by an update closure to skip the write; the store then returns the
// current value and no error.
var ErrNoChange = errors.New("no change")

// ErrConflict is returned when an optimistic-locking update lost every retry.
var ErrConflict = errors.New("concurrent update conflict")

// Update is the one shape of a read-modify-write. The store calls it with the current value (nil
// when the item does not exist and the operation may create it) and writes what it returns,
// conditioned on the version it read; it calls it again when another writer won. Returning
// ErrNoChange skips the write; any other error aborts and is returned wrapped.
type Update[T any] func(cur *T) (*T, error)

// InPlace adapts a closure that changes an existing value in place to an Update. It never
// creates: with no current value it returns ErrNotFound.
func InPlace[T any](fn func(*T) error) Update[T] {
	return func(cur *T) (*T, error) {
		if cur == nil {
			return nil, ErrNotFound
		}
		if err := fn(cur); err != nil {
			return nil, err
		}
		return cur, nil
	}
}
