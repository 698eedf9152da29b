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
	"syscall"
	"time"

	"github.com/hapair/hapair/internal/pacer"
)

// Handler answers one request. The result is encoded as JSON; an error is
// sent back as Response.Error.
type Handler func(ctx context.Context, req Request) (any, error)

// Server serves the control socket. Close stops accepting, drops idle
// clients and gives requests in flight CloseGrace to finish.
type Server struct {
	ln      net.Listener
	handle  Handler
	log     *slog.Logger
	pace    *pacer.Pacer
	wg      sync.WaitGroup
	closing chan struct{}
	once    sync.Once
	ctx     context.Context // canceled when CloseGrace runs out
	cancel  context.CancelFunc

	mu    sync.Mutex
	conns map[net.Conn]bool // true once its request is read (in flight)
}

// RequestTimeout bounds one exchange, so a client that connects and never
// writes cannot hold a goroutine forever.
const RequestTimeout = 30 * time.Second

// CloseGrace is how long Close lets requests in flight finish before it
// cancels their contexts and closes their connections. A client that has
// sent nothing yet is dropped at once, so an idle hactl (or anything else
// holding the socket open) never delays had's exit by more than this.
const CloseGrace = time.Second

// Listen creates the socket at path with mode 0600 (root only, like
// HAProxy's stats socket with "mode 600"). A leftover socket from a crashed
// daemon is removed, but a live one is an error: two daemons must not run.
//
// The socket's directory is created private (0700) when missing. An
// existing one, and every directory above it, must be owned by root or the
// running user, and the socket's own directory must not be writable by
// group or others (above it, only with the sticky bit, like /tmp), as
// OpenSSH's StrictModes checks paths: otherwise another user could replace
// the socket and root's `hactl takeover` would talk to an impostor. Such a
// directory is refused with its path, owner and mode.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ctl: creating socket directory for %q: %w", path, err)
	}
	if err := CheckDir(dir, os.Geteuid()); err != nil {
		return nil, err
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

// CheckDir reports an error unless dir (symbolic links resolved) and every
// directory above it are owned by root or uid, dir is not writable by
// group or others, and its ancestors are not either unless sticky. hactl
// runs it too before trusting a socket.
func CheckDir(dir string, uid int) error { return checkDir(dir, dir, uid, true) }

// CheckSocketPath reports why Listen would refuse the socket path, without
// creating anything: the directory's rules of CheckDir, or, when it does
// not exist yet (Listen creates it private), its existing ancestors'; and
// a path that exists and is not a socket. A live socket is no error here:
// the config check runs while had does.
func CheckSocketPath(path string, uid int) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket (mode %v)", path, fi.Mode())
	}
	dir := filepath.Dir(path)
	d := dir
	for {
		if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		d = filepath.Dir(d)
	}
	return checkDir(dir, d, uid, d == dir)
}

// checkDir is CheckDir for the socket directory dir, from its existing
// part from on up; self says from is dir itself.
func checkDir(dir, from string, uid int, self bool) error {
	real, err := filepath.EvalSymlinks(from)
	if err != nil {
		return fmt.Errorf("cannot check socket directory %s: %w", dir, err)
	}
	for d := real; ; d, self = filepath.Dir(d), false {
		fi, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("cannot check socket directory %s: %w", dir, err)
		}
		owner := -1
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = int(st.Uid)
		}
		perm := fi.Mode().Perm()
		sticky := fi.Mode()&os.ModeSticky != 0
		switch {
		case !fi.IsDir():
			return fmt.Errorf("socket directory %s: %s is not a directory (mode %v)", dir, d, fi.Mode())
		case owner != 0 && owner != uid:
			return fmt.Errorf("socket directory %s: %s is owned by uid %d, want root or uid %d (mode %04o): its owner could replace the control socket",
				dir, d, owner, uid, perm)
		case perm&0o022 != 0 && (self || !sticky):
			return fmt.Errorf("socket directory %s: %s has mode %04o (owner uid %d): group or others can write it and replace the control socket; "+
				"fix: chmod go-w %s, or use a private directory such as /run/hapair", dir, d, perm, owner, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// Serve answers requests on ln with h until Close. It returns at once; the
// accept loop runs in its own goroutine. Accept errors (EMFILE when the
// process is out of descriptors) back off from 5ms to 1s and are logged
// at most once per 10s (internal/pacer), so a shortage costs neither a
// core nor the log, and hactl is served again as soon as a descriptor is
// free.
func Serve(ln net.Listener, h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{ln: ln, handle: h, log: log, closing: make(chan struct{}), conns: map[net.Conn]bool{},
		pace: pacer.New(log, "control socket accept failed", nil)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
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
			if !s.pace.Wait(err, s.closing) {
				return
			}
			continue
		}
		s.pace.OK()
		// The deadline is set here, before the connection is listed, not
		// in serveConn: Close may set an immediate read deadline on a
		// listed idle client at any moment, and serveConn's goroutine
		// setting its own later would undo it (Close then waited its
		// whole CloseGrace for a client that had sent nothing).
		c.SetDeadline(time.Now().Add(RequestTimeout))
		s.mu.Lock()
		select {
		case <-s.closing:
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		s.conns[c] = false
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	var req Request
	dec := json.NewDecoder(io.LimitReader(c, maxMessage))
	var resp Response
	err := dec.Decode(&req)
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	select {
	case <-s.closing:
		// Close dropped this client before it sent a whole request.
		return
	default:
	}
	if err != nil {
		resp.Error = fmt.Sprintf("bad request: %v", err)
	} else {
		ctx, cancel := context.WithTimeout(s.ctx, RequestTimeout)
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

// Close stops accepting, drops clients that have not sent a request,
// gives requests in flight CloseGrace to finish, then cancels their
// contexts and closes their connections, and waits for every goroutine.
// It removes nothing from disk (the caller owns the path).
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		close(s.closing)
		err = s.ln.Close()
		for c, busy := range s.conns {
			if !busy {
				c.SetReadDeadline(time.Now()) // unblocks the pending Decode
			}
		}
		s.mu.Unlock()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		t := time.NewTimer(CloseGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.cancel()
			s.mu.Lock()
			for c := range s.conns {
				c.Close()
			}
			s.mu.Unlock()
		}
	})
	s.wg.Wait()
	s.cancel()
	return err
}
