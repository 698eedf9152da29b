package kernel

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/test/lab"
	"github.com/ti-mo/conntrack"
)

func inNetns(name string, fn func() error) error { return lab.InNetns(name, fn) }

// server listens on addr in host's namespace and answers each TCP
// connection with "NAME CLIENT-IP\n", then echoes lines; each UDP
// datagram with "NAME CLIENT-IP DATA".
type server struct {
	name string
	pc   net.PacketConn
	wg   sync.WaitGroup
}

func startServer(t *testing.T, h *lab.Host, addr string) *server {
	t.Helper()
	s := &server{name: h.Name}
	var ln net.Listener
	err := inNetns(h.Netns, func() error {
		var err error
		if ln, err = net.Listen("tcp4", addr); err != nil {
			return err
		}
		s.pc, err = net.ListenPacket("udp4", addr)
		return err
	})
	if err != nil {
		t.Fatalf("%s: listening on %s: %v", h.Name, addr, err)
	}
	testkit.ServeConns(t, ln, s.echo)
	s.wg.Add(1)
	go s.serveUDP()
	t.Cleanup(func() { s.pc.Close(); s.wg.Wait() })
	return s
}

// echo greets c with the server's name and the client's address, then
// echoes its lines.
func (s *server) echo(c net.Conn, _ int) {
	ra := c.RemoteAddr().(*net.TCPAddr)
	fmt.Fprintf(c, "%s %s\n", s.name, ra.IP)
	br := bufio.NewReader(c)
	for {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := c.Write([]byte(l)); err != nil {
			return
		}
	}
}

func (s *server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, ra, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		fmt.Fprintf(writerTo{s.pc, ra}, "%s %s %s", s.name, ra.(*net.UDPAddr).IP, buf[:n])
	}
}

type writerTo struct {
	pc net.PacketConn
	a  net.Addr
}

func (w writerTo) Write(b []byte) (int, error) { return w.pc.WriteTo(b, w.a) }

// dialer makes connections from inside a namespace: one locked thread
// does every dial, so each socket is created there.
type dialer struct {
	reqs chan dialReq
}

type dialReq struct {
	network, addr string
	local         string
	res           chan dialRes
}

type dialRes struct {
	c   net.Conn
	err error
}

func newDialer(t *testing.T, h *lab.Host) *dialer {
	t.Helper()
	d := &dialer{reqs: make(chan dialReq)}
	ready := make(chan error, 1)
	go func() {
		_ = inNetns(h.Netns, func() error {
			ready <- nil
			for r := range d.reqs {
				nd := net.Dialer{Timeout: 2 * time.Second}
				if r.local != "" {
					la, _ := net.ResolveUDPAddr("udp4", r.local)
					nd.LocalAddr = la
				}
				c, err := nd.Dial(r.network, r.addr)
				r.res <- dialRes{c, err}
			}
			return nil
		})
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(d.reqs) })
	return d
}

func (d *dialer) dial(network, addr, local string) (net.Conn, error) {
	res := make(chan dialRes, 1)
	d.reqs <- dialReq{network: network, addr: addr, local: local, res: res}
	r := <-res
	return r.c, r.err
}

// hello connects over TCP and returns the server's greeting fields
// (real name, the client address it saw), keeping the connection open
// when keep is set.
func (d *dialer) hello(addr string) (name string, seen netip.Addr, c net.Conn, err error) {
	c, err = d.dial("tcp4", addr, "")
	if err != nil {
		return "", netip.Addr{}, nil, err
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		c.Close()
		return "", netip.Addr{}, nil, fmt.Errorf("reading greeting: %w", err)
	}
	f := strings.Fields(l)
	if len(f) != 2 {
		c.Close()
		return "", netip.Addr{}, nil, fmt.Errorf("greeting %q", l)
	}
	seen, err = netip.ParseAddr(f[1])
	return f[0], seen, c, err
}

// balancer programs lb1's tables through proxy/nft from inside its
// namespace and removes them when the test ends.
type balancer struct {
	t  *testing.T
	ns string
	tb *nft.Tables
}

func newBalancer(t *testing.T, h *lab.Host) *balancer {
	b := &balancer{t: t, ns: h.Netns}
	err := inNetns(h.Netns, func() error {
		c, err := nft.OpenNetlink()
		if err != nil {
			return err
		}
		b.tb = nft.New(c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inNetns(b.ns, b.tb.Remove); err != nil {
			t.Errorf("removing hapair's tables: %v", err)
		}
	})
	return b
}

// connections reads per-real counts the way `hactl services` does.
func (b *balancer) connections(svcs ...nft.Service) map[string]map[netip.AddrPort]nft.Counts {
	b.t.Helper()
	var got map[string]map[netip.AddrPort]nft.Counts
	err := inNetns(b.ns, func() error {
		ct, err := conntrack.Dial(nil)
		if err != nil {
			return err
		}
		defer ct.Close()
		got, err = b.tb.Connections(ct, svcs)
		return err
	})
	if err != nil {
		b.t.Fatalf("reading connection counts: %v", err)
	}
	return got
}

// apply resolves dr services (in the balancer's namespace) and applies.
func (b *balancer) apply(svcs ...nft.Service) {
	b.t.Helper()
	err := inNetns(b.ns, func() error {
		for i := range svcs {
			if svcs[i].Method == nft.MethodDR {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := nft.ResolveDR(ctx, &svcs[i])
				cancel()
				if err != nil {
					return err
				}
			}
		}
		return b.tb.Apply(svcs)
	})
	if err != nil {
		b.t.Fatalf("applying services: %v", err)
	}
}

// tcpOutRsts reads the TCP OutRsts counter of h's namespace (RFC 1213
// tcpOutRsts, /proc/net/snmp): the resets h's own stack sent.
func tcpOutRsts(t *testing.T, h *lab.Host) int64 {
	t.Helper()
	var n int64 = -1
	err := inNetns(h.Netns, func() error {
		b, err := os.ReadFile("/proc/thread-self/net/snmp") // this thread's namespace; /proc/net is the process's
		if err != nil {
			return err
		}
		n, err = lab.SNMPCounter(b, "Tcp", "OutRsts")
		return err
	})
	if err != nil {
		t.Fatalf("%s: reading TCP OutRsts: %v", h.Name, err)
	}
	return n
}
