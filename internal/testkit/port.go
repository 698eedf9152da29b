package testkit

import (
	"net"
	"strconv"
	"testing"
)

// FreeUDPPair returns a UDP port that was free on both 127.0.0.1 and
// 127.0.0.2 a moment ago: where tests put two nodes of a pair on one host
// (each loopback address stands for one node). It tries 20 ports before
// failing the test.
func FreeUDPPair(t testing.TB) uint16 {
	t.Helper()
	for range 20 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c2, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
		c.Close()
		if err == nil {
			c2.Close()
			return uint16(port)
		}
	}
	t.Fatal("no free UDP port on 127.0.0.1 and 127.0.0.2")
	return 0
}

// Accept runs handle for each connection ln accepts, one after another on
// one goroutine, until the test ends; then it closes ln and waits for the
// loop to return. handle owns the connection: it closes it, keeps it, or
// hands it to a goroutine of its own.
func Accept(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
}
