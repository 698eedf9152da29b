package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// adminGet fetches path from the admin listener of host, from inside the
// host's namespace (127.0.0.1:AdminPort there).
func adminGet(h *lab.Host, path string) ([]byte, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return lab.DialIn(h.Netns, "tcp", addr, 2*time.Second)
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
				up, err := lab.DialIn(ns, "tcp", target, 2*time.Second)
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
