package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// dialIn opens a TCP connection from inside network namespace ns (an
// `ip netns` name of the lab): the socket is made on a locked thread moved
// into ns and back. The thread must live on: the lab starts its processes
// with a parent-death signal, which the kernel sends when the thread that
// forked them exits, so a thread is let die only if it cannot get back.
func dialIn(ns, addr string, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("reading this thread's netns: %w", err)}
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("netns %s: %w", ns, err)}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("entering netns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, timeout)
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread() // back home: the thread may serve others
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// adminGet fetches path from the admin listener of host, from inside the
// host's namespace (127.0.0.1:AdminPort there).
func adminGet(h *lab.Host, path string) ([]byte, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(h.Netns, addr, 2*time.Second)
		},
	}}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", scenario.AdminPort, path))
	if err != nil {
		return nil, fmt.Errorf("GET %s on %s: %w", path, h.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s on %s: %s", path, h.Name, resp.Status)
	}
	return body, err
}

// metrics is a scrape in the Prometheus text format: value by series as
// written ("name{label=\"v\",...}", labels in the exporter's order).
type metrics map[string]float64

func scrape(h *lab.Host) (metrics, error) {
	body, err := adminGet(h, "/metrics")
	if err != nil {
		return nil, err
	}
	m := metrics{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("%s /metrics: bad line %q", h.Name, line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%s /metrics: bad value in %q", h.Name, line)
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// sum adds the series of metric name whose labels include every given
// `key="value"` pair.
func (m metrics) sum(name string, labels ...string) float64 {
	var s float64
	for k, v := range m {
		if series(k, name, labels) {
			s += v
		}
	}
	return s
}

// has reports whether any series of name has the labels.
func (m metrics) has(name string, labels ...string) bool {
	for k := range m {
		if series(k, name, labels) {
			return true
		}
	}
	return false
}

func series(key, name string, labels []string) bool {
	base, lbl, _ := strings.Cut(key, "{")
	if base != name {
		return false
	}
	lbl = "," + strings.TrimSuffix(lbl, "}") + ","
	for _, l := range labels {
		if !strings.Contains(lbl, ","+l+",") {
			return false
		}
	}
	return true
}

// forward listens on a loopback port of the test's namespace and relays
// each connection to target as dialed from inside namespace ns: the path
// the test makes for a browser in the root namespace to reach a lab
// address. Closed, with every relayed connection, at cleanup; drop closes
// the connections relayed so far (a browser's kept-alive connection to a
// node that crashed would hang).
func forward(t *testing.T, ns, target string) (addr string, drop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				up, err := dialIn(ns, target, 2*time.Second)
				if err != nil {
					return
				}
				track(up)
				defer up.Close()
				done := make(chan struct{})
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(c, up)
				<-done
			}()
		}
	}()
	drop = func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		drop()
		wg.Wait()
	})
	return ln.Addr().String(), drop
}
