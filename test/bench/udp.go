package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"
)

// serveUDPEcho echoes every datagram on each address until SIGTERM: the
// UDP backends (one goroutine per socket).
func serveUDPEcho(addrs []string) error {
	for _, a := range addrs {
		pc, err := net.ListenPacket("udp", a)
		if err != nil {
			return err
		}
		uc := pc.(*net.UDPConn)
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := uc.ReadFromUDPAddrPort(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				_, _ = uc.WriteToUDPAddrPort(buf[:n], from)
			}
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

// udpReplyTimeout is how long a flow waits for its echo before counting the
// datagram lost and sending the next one.
const udpReplyTimeout = 200 * time.Millisecond

// runUDPLoad sends to addr from nflows client sockets (flows: distinct
// source ports) for d with -c datagrams in flight, like wrk's connections:
// worker i owns flows i, i+c, i+2c, ... and sends on each in turn, one
// datagram at a time, so every flow stays active. It returns datagrams
// answered per second and the round-trip percentiles; lost datagrams (no
// echo within udpReplyTimeout) count as errors. Before the clock starts
// every flow gets one answer, so the proxy's flows exist (the run measures
// forwarding, not flow setup).
func runUDPLoad(ctx context.Context, addr string, nflows int, d time.Duration) (sample, error) {
	var s sample
	socks := make([]*net.UDPConn, 0, nflows)
	defer func() {
		for _, c := range socks {
			c.Close()
		}
	}()
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return s, err
	}
	for range nflows {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			return s, fmt.Errorf("udp load: opening flow %d: %w", len(socks), err)
		}
		socks = append(socks, c)
	}
	payload := []byte("OPTIONS sip:bench SIP/2.0\r\nVia: SIP/2.0/UDP bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
	// Warm up: one answered datagram per flow, the workers' flows in
	// parallel, bounded in time.
	workers := min(*conns, len(socks))
	warmErr := make(chan error, workers)
	warmBy := time.Now().Add(30 * time.Second)
	for w := range workers {
		go func() {
			buf := make([]byte, 2048)
			for i := w; i < len(socks); i += workers {
				c := socks[i]
				for {
					if time.Now().After(warmBy) || ctx.Err() != nil {
						warmErr <- fmt.Errorf("udp load: flow %d got no echo from %s within 30s of warming up", i, addr)
						return
					}
					c.SetDeadline(time.Now().Add(udpReplyTimeout))
					_, err := c.Write(payload)
					if err == nil {
						_, err = c.Read(buf)
					}
					if err == nil {
						break
					}
					if errors.Is(err, net.ErrClosed) { // another worker failed: runUDPLoad returned
						warmErr <- err
						return
					}
				}
			}
			warmErr <- nil
		}()
	}
	for range workers {
		if err := <-warmErr; err != nil {
			return s, err
		}
	}
	var (
		mu    sync.Mutex
		rtts  []time.Duration
		lost  int
		wg    sync.WaitGroup
		start = time.Now()
		end   = start.Add(d)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			var mine []time.Duration
			myLost := 0
			for i := w; ; i += workers {
				if i >= len(socks) {
					i = w
				}
				c := socks[i]
				t0 := time.Now()
				if t0.After(end) || ctx.Err() != nil {
					break
				}
				c.SetDeadline(t0.Add(udpReplyTimeout))
				if _, err := c.Write(payload); err != nil {
					myLost++
					continue
				}
				if _, err := c.Read(buf); err != nil {
					myLost++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			rtts = append(rtts, mine...)
			lost += myLost
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(rtts)
	s.ops = int64(len(rtts))
	s.rate = float64(len(rtts)) / elapsed.Seconds()
	s.errors = lost
	if n := len(rtts); n > 0 {
		s.p50 = rtts[n/2].Round(time.Microsecond)
		s.p99 = rtts[n*99/100].Round(time.Microsecond)
	}
	return s, nil
}
