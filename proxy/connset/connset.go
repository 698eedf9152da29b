// Package connset keeps the set of connections (or listeners) a proxy
// holds open, so that a shutdown can reach every one of them and wait for
// the last to end. l4's TCP proxy and l7's HTTP proxy each keep one.
//
// It must not decide how a member is closed or when: the proxy that owns
// the set closes what Close returns (a reset, a graceful close) and waits
// on Empty as its shutdown requires.
package connset

import "sync"

// Set is a set of T that can be closed: after Close, Add refuses new
// members. The zero value is an empty, open set. Safe for concurrent use.
type Set[T comparable] struct {
	mu     sync.Mutex
	m      map[T]struct{}
	closed bool
	empty  chan struct{} // made by Empty, closed once closed and empty
}

// Add adds c and reports true, or reports false when the set is closed
// (the caller then closes c itself).
func (s *Set[T]) Add(c T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = make(map[T]struct{})
	}
	s.m[c] = struct{}{}
	return true
}

// Remove removes c (nothing when c is not a member).
func (s *Set[T]) Remove(c T) {
	s.mu.Lock()
	delete(s.m, c)
	s.signalEmpty()
	s.mu.Unlock()
}

// Close refuses further members and returns those the set holds now.
func (s *Set[T]) Close() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.signalEmpty()
	out := make([]T, 0, len(s.m))
	for c := range s.m {
		out = append(out, c)
	}
	return out
}

// Each calls fn for every member, with the set locked: fn must not call
// the set's methods.
func (s *Set[T]) Each(fn func(T)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.m {
		fn(c)
	}
}

// Empty returns a channel that is closed once the set is closed and holds
// nothing: what a graceful shutdown waits for after Close.
func (s *Set[T]) Empty() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.empty == nil {
		s.empty = make(chan struct{})
		s.signalEmpty()
	}
	return s.empty
}

// signalEmpty closes s.empty when it is wanted and due; s.mu is held.
func (s *Set[T]) signalEmpty() {
	if s.empty == nil || !s.closed || len(s.m) > 0 {
		return
	}
	select {
	case <-s.empty:
	default:
		close(s.empty)
	}
}
