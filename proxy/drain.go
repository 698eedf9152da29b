package proxy

import "fmt"

// Quiesce puts the named services in the drain state before a planned
// move (`hactl standby --drain`) or takes them out of it. A draining
// service still accepts new connections, since the VIP may route clients
// here until it moves, but HTTP keep-alive ends (l7.Proxy.SetQuiesce):
// clients reconnect and reach the peer once the VIP has moved. TCP and UDP
// services have no way to ask a client to leave; their connections end
// when the client ends them. Activate ends the drain state.
func (b *Balancer) Quiesce(on bool, names ...string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var unknown []string
	for _, n := range names {
		s, ok := b.services[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if s.web != nil {
			s.web.SetQuiesce(on)
		}
		if on {
			b.draining[n] = true
			b.log.Info("service draining", "service", n)
		} else {
			delete(b.draining, n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("proxy: unknown service(s) %q", unknown)
	}
	return nil
}

// OpenConns returns what a drain waits for on the named services: open
// TCP connections, and HTTP requests in flight (a drained HTTP service
// closes its idle keep-alive connections itself, so a connection without
// a request is no client to wait for). UDP flows have no end a client
// signals and are not counted.
func (b *Balancer) OpenConns(names ...string) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var open int64
	for _, n := range names {
		s, ok := b.services[n]
		if !ok {
			return 0, fmt.Errorf("proxy: unknown service %q", n)
		}
		switch {
		case s.tcp != nil:
			open += s.tcp.Stats().Open
		case s.web != nil:
			open += s.web.Stats().InFlight
		}
	}
	return open, nil
}
