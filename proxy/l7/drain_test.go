package l7

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// openIs waits (bounded) until the proxy counts want open client
// connections.
func openIs(t *testing.T, px *Proxy, want int64, why string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for px.Stats().Open != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: Stats().Open = %d, want %d", why, px.Stats().Open, want)
		}
		time.Sleep(5 * time.Millisecond) // poll interval of a bounded wait
	}
}

// A drained proxy (SetQuiesce) ends keep-alive: the next response on a
// kept-alive connection says "Connection: close", idle ones are closed, and
// Stats.Open falls to zero; new connections are still served.
func TestQuiesceEndsKeepAlive(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	px, url := start(t, upstreamtest.NewPicker(a.Addr))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	do := func() *http.Response {
		t.Helper()
		resp, err := c.Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := do(); resp.Close {
		t.Fatal("keep-alive refused before the drain")
	}
	openIs(t, px, 1, "one kept-alive connection")
	px.SetQuiesce(true)
	openIs(t, px, 0, "idle keep-alive connection after the drain began")
	if resp := do(); !resp.Close {
		t.Error("a response during the drain lacks Connection: close")
	}
	nc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 50 {
		resp, err := nc.Get(url + "/")
		if err != nil {
			t.Fatalf("a new connection during the drain: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	openIs(t, px, 0, "after the requests during the drain")
	px.SetQuiesce(false)
	if resp := do(); resp.Close {
		t.Error("keep-alive still refused after the drain ended")
	}
}

// Requests racing the start of a drain all finish and none stays counted
// in flight.
func TestQuiesceUnderLoad(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	px, url := start(t, upstreamtest.NewPicker(a.Addr))
	nc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	kc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	errs := make(chan error, 8)
	for i := range 8 {
		c := nc
		if i%2 == 0 {
			c = kc
		}
		go func() {
			for range 100 {
				resp, err := c.Get(url + "/")
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			errs <- nil
		}()
	}
	time.Sleep(20 * time.Millisecond) // let the load start: part of the scenario
	px.SetQuiesce(true)
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("request during the drain: %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for px.Stats().InFlight != 0 || px.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the load: in flight %d, open %d; want 0", px.Stats().InFlight, px.Stats().Open)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
