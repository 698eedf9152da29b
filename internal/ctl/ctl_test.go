package ctl

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func serveTest(t *testing.T, h Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "had.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen(%q) = %v", path, err)
	}
	s := Serve(ln, h, nil)
	t.Cleanup(func() { s.Close() })
	return path
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCallRoundTrip(t *testing.T) {
	path := serveTest(t, func(ctx context.Context, req Request) (any, error) {
		switch req.Verb {
		case VerbTakeover:
			return map[string]string{"moved": req.Group}, nil
		case VerbStandby:
			return nil, errors.New("group \"db\" is not configured")
		}
		return nil, nil
	})

	var got map[string]string
	if err := Call(ctxT(t), path, Request{Verb: VerbTakeover, Group: "web"}, &got); err != nil {
		t.Fatalf("Call(takeover) = %v", err)
	}
	if got["moved"] != "web" {
		t.Errorf("takeover result = %v, want moved=web", got)
	}

	err := Call(ctxT(t), path, Request{Verb: VerbStandby, Group: "db"}, nil)
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), `group "db" is not configured`) {
		t.Errorf("Call(standby) = %v, want RemoteError naming the group", err)
	}
}

func TestSocketMode0600(t *testing.T) {
	path := serveTest(t, func(context.Context, Request) (any, error) { return nil, nil })
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode = %#o, want 0600", got)
	}
}

func TestUnreachableNamesSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	err := Call(ctxT(t), path, Request{Verb: VerbStatus}, nil)
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("Call to missing socket = %v, want UnreachableError", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "is had running?") {
		t.Errorf("error %q does not name the socket and the hint", err)
	}
}

func TestListenReplacesStaleSocketButNotLiveOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "had.sock")

	// A stale socket: bound, then its listener closed without unlinking.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over stale socket = %v, want success", err)
	}
	defer ln2.Close()

	// A live one must be refused: two daemons on one socket is a bug.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Errorf("Listen over live socket = %v, want 'already listening'", err)
	}

	// A regular file is not ours to remove.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over regular file = %v, want 'not a socket'", err)
	}
}

func TestBadRequestAnswered(t *testing.T) {
	path := serveTest(t, func(context.Context, Request) (any, error) { return nil, nil })
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("{not json\n"))
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	if !strings.Contains(string(buf[:n]), "bad request") {
		t.Errorf("reply to garbage = %q, want a 'bad request' error", buf[:n])
	}
}
