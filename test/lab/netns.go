package lab

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// InNetns runs fn on an OS thread moved into the namespace netns (a
// Host's Netns): the sockets fn creates belong to that namespace and keep
// working from any goroutine afterwards, so a test can listen or dial as
// a lab host without a helper process. The thread returns to its own
// namespace after fn; if it cannot, it stays locked and exits with its
// goroutine, so no other goroutine ever runs in the wrong namespace. A
// thread that never left is unlocked: it must live on, as the lab starts
// its processes with a parent-death signal, which the kernel sends when
// the thread that forked them exits.
func InNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: reading this thread's netns: %w", err)
			return
		}
		defer orig.Close()
		ns, err := netns.GetFromName(name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: netns %s: %w", name, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: entering netns %s: %w", name, err)
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// DialIn connects to addr over network (net.Dial's names) from inside the
// namespace ns, within timeout; the connection stays in ns for its life.
func DialIn(ns, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := InNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}
