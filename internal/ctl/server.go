package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Handler answers one request. The result is encoded as JSON; an error is
// sent back as Response.Error.
type Handler func(ctx context.Context, req Request) (any, error)

// Server serves the control socket. Close stops accepting and waits for
// requests in flight.
type Server struct {
	ln      net.Listener
	handle  Handler
	log     *slog.Logger
	wg      sync.WaitGroup
	closing chan struct{}
	once    sync.Once
}

// requestTimeout bounds one exchange, so a client that connects and never
// writes cannot hold a goroutine forever.
const requestTimeout = 30 * time.Second

// Listen creates the socket at path with mode 0600 (root only, like
// HAProxy's stats socket with "mode 600"). A leftover socket from a crashed
// daemon is removed, but a live one is an error: two daemons must not run.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("ctl: creating socket directory for %q: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("ctl: %s exists and is not a socket (mode %v)", path, fi.Mode())
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("ctl: %s: another had is already listening", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("ctl: removing stale socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("ctl: listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ctl: chmod 0600 %s: %w", path, err)
	}
	return ln, nil
}

// Serve answers requests on ln with h until Close. It returns at once; the
// accept loop runs in its own goroutine.
func Serve(ln net.Listener, h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ln: ln, handle: h, log: log, closing: make(chan struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("control socket accept failed", "err", err)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(requestTimeout))
	var req Request
	dec := json.NewDecoder(io.LimitReader(c, maxMessage))
	var resp Response
	if err := dec.Decode(&req); err != nil {
		resp.Error = fmt.Sprintf("bad request: %v", err)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		result, err := s.handle(ctx, req)
		cancel()
		switch {
		case err != nil:
			resp.Error = err.Error()
		case result != nil:
			b, err := json.Marshal(result)
			if err != nil {
				resp.Error = fmt.Sprintf("encoding %s result: %v", req.Verb, err)
			} else {
				resp.Result = b
			}
		}
	}
	if err := json.NewEncoder(c).Encode(&resp); err != nil {
		s.log.Debug("control socket reply failed", "verb", req.Verb, "err", err)
	}
}

// Close stops accepting, removes nothing from disk (the caller owns the
// path) and waits for requests in flight.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closing)
		err = s.ln.Close()
	})
	s.wg.Wait()
	return err
}
