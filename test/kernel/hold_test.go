package kernel

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/test/lab"
)

// The SYN hold of a drained move: while it is in place a new connection
// to a held VIP:port times out (its SYNs are dropped) instead of being
// accepted or refused, even where nothing listens; established
// connections, UDP and other ports pass; a connect under way when the
// hold is lifted completes with its SYN's retransmission; a table of the
// name without hapair's marker is left alone.
func TestSYNHold(t *testing.T) {
	l := lab.New(t, lab.Options{Nodes: 1, Backends: -1})
	lb1 := l.Host("lb1")
	lb1.Sh(t, `ip addr add `+vip+`/24 dev eth0`)
	startServer(t, lb1, vip+":80")
	startServer(t, lb1, vip+":81")
	client := newDialer(t, l.Client())

	_, _, before, err := client.hello(vip + ":80")
	if err != nil {
		t.Fatalf("before the hold: %v", err)
	}
	defer before.Close()

	var h *nft.Hold
	if err := inNetns(lb1.Netns, func() error {
		c, err := nft.OpenNetlink()
		h = nft.NewHold(c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	release := func() error { return inNetns(lb1.Netns, h.Release) }
	t.Cleanup(func() {
		if err := release(); err != nil {
			t.Errorf("removing the hold: %v", err)
		}
	})
	// :82 has no listener: without the hold a connect is refused.
	held := []netip.AddrPort{netip.MustParseAddrPort(vip + ":80"), netip.MustParseAddrPort(vip + ":82")}
	if err := inNetns(lb1.Netns, func() error { return h.Install(held) }); err != nil {
		t.Fatal(err)
	}
	if out, err := lb1.RunFor(5*time.Second, "nft", "list", "table", "inet", nft.HoldTableName); err != nil || !strings.Contains(string(out), "hook input") {
		t.Fatalf("nft list table inet %s: %v:\n%s", nft.HoldTableName, err, out)
	}

	for _, port := range []string{"80", "82"} {
		start := time.Now()
		c, err := client.dial("tcp4", vip+":"+port, "")
		var ne net.Error
		switch {
		case err == nil:
			c.Close()
			t.Errorf(":%s under the hold: connected, want a timeout", port)
		case errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &ne) || !ne.Timeout():
			t.Errorf(":%s under the hold: %v, want a timeout (not refused)", port, err)
		default:
			t.Logf(":%s under the hold: timed out after %v", port, time.Since(start).Round(time.Millisecond))
		}
	}
	if err := echo(before, "still here"); err != nil {
		t.Errorf("a connection established before the hold: %v", err)
	}
	if _, _, c, err := client.hello(vip + ":81"); err != nil {
		t.Errorf("a port not held: %v", err)
	} else {
		c.Close()
	}
	if err := udpHello(client, vip+":80"); err != nil {
		t.Errorf("UDP to a held VIP:port: %v", err)
	}

	// A connect under way when the hold is lifted: its first SYN is
	// dropped, its retransmission (RTO 1 s, RFC 6298) is answered.
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		c, err := client.dial("tcp4", vip+":80", "")
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	lab.Eventually(t, 2*time.Second, "the client's connect waiting in SYN-SENT", func() error {
		out, err := l.Client().RunFor(5*time.Second, "ss", "-Htn", "state", "syn-sent", "dst", vip+":80")
		if err != nil || !strings.Contains(string(out), vip) {
			return errors.New("no SYN-SENT socket yet")
		}
		return nil
	})
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("connect across the release: %v", err)
	} else {
		t.Logf("connect across the release took %v (one SYN retransmission)", time.Since(start).Round(time.Millisecond))
	}
	if _, _, c, err := client.hello(vip + ":80"); err != nil {
		t.Errorf("after the release: %v", err)
	} else {
		c.Close()
	}
	if out, err := lb1.RunFor(5*time.Second, "nft", "list", "tables"); err != nil || strings.Contains(string(out), nft.HoldTableName) {
		t.Errorf("after the release, tables: %v\n%s", err, out)
	}

	// Someone else's table of the name is neither used nor removed.
	lb1.Sh(t, `nft add table inet `+nft.HoldTableName+`; nft add chain inet `+nft.HoldTableName+` theirs`)
	t.Cleanup(func() { lb1.RunFor(5*time.Second, "nft", "delete", "table", "inet", nft.HoldTableName) })
	if err := release(); !errors.Is(err, nft.ErrNotOurs) {
		t.Errorf("Release over a foreign table = %v, want ErrNotOurs", err)
	}
	if err := inNetns(lb1.Netns, func() error { return h.Install(held) }); !errors.Is(err, nft.ErrNotOurs) {
		t.Errorf("Install over a foreign table = %v, want ErrNotOurs", err)
	}
	if out, _ := lb1.RunFor(5*time.Second, "nft", "list", "table", "inet", nft.HoldTableName); !strings.Contains(string(out), "chain theirs") {
		t.Errorf("the foreign table was touched:\n%s", out)
	}
}

// udpHello sends a datagram to addr and waits for the server's answer.
func udpHello(d *dialer, addr string) error {
	c, err := d.dial("udp4", addr, "")
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("hi")); err != nil {
		return err
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(string(buf[:n]), "hi") {
		return errors.New("answer " + string(buf[:n]))
	}
	return nil
}
