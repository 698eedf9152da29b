package testkit

import (
	"net"
	"sync"
	"testing"
)

// Conns serves each connection a listener accepts on a goroutine of its
// own: the fake reals and servers of tests that hold connections open.
type Conns struct {
	ln    net.Listener
	mu    sync.Mutex
	open  map[net.Conn]bool // nil once closed
	wg    sync.WaitGroup
	close sync.Once
}

// ServeConns runs handle(c, i) for each connection ln accepts, the i-th
// from 0, each on its own goroutine, and closes c when handle returns.
// When the test ends (or at Close) it closes ln and every connection
// still open and waits for the handlers to return.
func ServeConns(t testing.TB, ln net.Listener, handle func(c net.Conn, i int)) *Conns {
	s := &Conns{ln: ln, open: map[net.Conn]bool{}}
	s.wg.Go(func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.open == nil { // accepted as Close ran
				s.mu.Unlock()
				c.Close()
				return
			}
			s.open[c] = true
			s.mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					s.mu.Lock()
					delete(s.open, c)
					s.mu.Unlock()
					c.Close()
				}()
				handle(c, i)
			})
		}
	})
	t.Cleanup(s.Close)
	return s
}

// Close closes the listener and every connection open now, as a crashed
// server would, and waits for the handlers to return. Calling it again
// does nothing.
func (s *Conns) Close() {
	s.close.Do(func() {
		s.ln.Close()
		s.mu.Lock()
		for c := range s.open {
			c.Close()
		}
		s.open = nil
		s.mu.Unlock()
		s.wg.Wait()
	})
}
