// Command labsrv is the lab's backend server: it answers with its own name
// so a client can tell which real served it.
//
//   - HTTP (-http, default 80): GET / answers "NAME\n" with header
//     X-Backend: NAME; GET /status answers "ok NAME" (503 "down NAME" while down),
//     for negotiate checks.
//   - TCP (-tcp, default 9000): writes "NAME\n" on accept, then echoes lines
//     until the client closes or is idle for 30s.
//   - UDP (-udp, default 5060): answers a SIP OPTIONS request with
//     "SIP/2.0 200 OK" (503 while down) copying Via, From, To, Call-ID and
//     CSeq as RFC 3261 §11.2 asks; echoes any other datagram as "NAME: DATA".
//
// SIGUSR1 toggles "down": /status and SIP OPTIONS fail and new TCP
// connections are closed at once, so health-check tests can fail a real.
// SIGTERM or SIGINT stops it (exit 0). A port of 0 disables that server.
// It runs inside lab namespaces only; it never dials anything.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const idleTimeout = 30 * time.Second

type server struct {
	name string
	down atomic.Bool
	log  *log.Logger
}

func main() {
	name := flag.String("name", "", "backend name to answer with (required)")
	addr := flag.String("addr", "", "address to listen on (default all)")
	httpPort := flag.Int("http", 80, "HTTP port (0 = off)")
	tcpPort := flag.Int("tcp", 9000, "TCP banner/echo port (0 = off)")
	udpPort := flag.Int("udp", 5060, "UDP SIP/echo port (0 = off)")
	flag.Parse()
	if *name == "" || strings.ContainsAny(*name, " \r\n:") {
		fmt.Fprintf(os.Stderr, "labsrv: -name %q: want one word\n", *name)
		os.Exit(2)
	}
	s := &server{name: *name, log: log.New(os.Stderr, "labsrv "+*name+": ", log.Lmicroseconds)}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := s.run(ctx, *addr, *httpPort, *tcpPort, *udpPort); err != nil {
		s.log.Print(err)
		os.Exit(1)
	}
	s.log.Print("stopped")
}

func (s *server) run(ctx context.Context, addr string, httpPort, tcpPort, udpPort int) error {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: idleTimeout}
	ls := &listeners{addr: addr, closers: []io.Closer{srv}, errc: make(chan error, 3)}
	defer ls.close()
	if err := errors.Join(
		start(ls, "http", httpPort, net.Listen, "tcp", srv.Serve),
		start(ls, "tcp", tcpPort, net.Listen, "tcp", s.serveTCP),
		start(ls, "udp", udpPort, net.ListenPacket, "udp", s.serveUDP),
	); err != nil {
		return err
	}
	s.log.Printf("serving http=%d tcp=%d udp=%d", httpPort, tcpPort, udpPort)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-usr1:
			s.log.Printf("down=%v", !s.down.Load())
			s.down.Store(!s.down.Load())
		case err := <-ls.errc:
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		}
	}
}

// listeners are the servers run started, closed when it returns.
type listeners struct {
	addr    string
	closers []io.Closer
	errc    chan error // a server's end
}

func (ls *listeners) close() {
	for _, c := range ls.closers {
		c.Close()
	}
}

// start opens what's listener (a stream listener or a packet socket) on
// port of ls.addr with open and runs serve on it in the background; a
// port of 0 starts nothing.
func start[L io.Closer](ls *listeners, what string, port int, open func(network, address string) (L, error), network string, serve func(L) error) error {
	if port <= 0 {
		return nil
	}
	l, err := open(network, net.JoinHostPort(ls.addr, fmt.Sprint(port)))
	if err != nil {
		return fmt.Errorf("labsrv: listening for %s: %w", what, err)
	}
	ls.closers = append(ls.closers, l)
	go func() { ls.errc <- serve(l) }()
	return nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Backend", s.name)
	switch r.URL.Path {
	case "/status":
		if s.down.Load() {
			http.Error(w, "down "+s.name, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok %s\n", s.name)
	default:
		fmt.Fprintf(w, "%s\n", s.name)
	}
}

func (s *server) serveTCP(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go s.echo(c)
	}
}

func (s *server) echo(c net.Conn) {
	defer c.Close()
	if s.down.Load() {
		return
	}
	c.SetDeadline(time.Now().Add(idleTimeout))
	if _, err := fmt.Fprintf(c, "%s\n", s.name); err != nil {
		return
	}
	r := bufio.NewReader(io.LimitReader(c, 1<<20))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(idleTimeout))
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

func (s *server) serveUDP(pc net.PacketConn) error {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		msg := string(buf[:n])
		var reply string
		if strings.HasPrefix(msg, "OPTIONS ") {
			reply = s.sipReply(msg)
		} else {
			reply = s.name + ": " + msg
		}
		pc.WriteTo([]byte(reply), from)
	}
}

// sipReply answers OPTIONS, copying the headers a UAS must echo
// (RFC 3261 §8.2.6.2) and naming itself in Server.
func (s *server) sipReply(req string) string {
	status := "200 OK"
	if s.down.Load() {
		status = "503 Service Unavailable"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %s\r\n", status)
	for _, line := range strings.Split(req, "\n") {
		line = strings.TrimRight(line, "\r")
		key, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "via", "v", "from", "f", "to", "t", "call-id", "i", "cseq":
			b.WriteString(line + "\r\n")
		}
	}
	fmt.Fprintf(&b, "Server: %s\r\nContent-Length: 0\r\n\r\n", s.name)
	return b.String()
}
