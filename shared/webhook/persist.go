package webhook

import "github.com/aloro/wa-senders/shared/persist"

// ifChanged turns a domain mutator, which reports whether it changed anything, into the one
// update shape the store speaks: an absent item starts as the zero value (found false) and an
// unchanged one is not written.
func ifChanged[T any](fn func(cur *T, found bool) bool) persist.Update[T] {
	return func(cur *T) (*T, error) {
		found := cur != nil
		if !found {
			cur = new(T)
		}
		if !fn(cur, found) {
			return nil, persist.ErrNoChange
		}
		return cur, nil
	}
}

// existing is ifChanged for items that must exist (the store answers persist.ErrNotFound).
func existing[T any](fn func(cur *T) bool) persist.Update[T] {
	return ifChanged(func(cur *T, _ bool) bool { return fn(cur) })
}
