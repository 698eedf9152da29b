package ctl

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
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

// TestListenRefusesWritableDir: a socket directory others can write is
// refused with its path, owner and mode (issue 9 case 10); a missing one is
// created private.
func TestListenRefusesWritableDir(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil { // Mkdir's mode is masked by umask
		t.Fatal(err)
	}
	_, err := Listen(filepath.Join(open, "had.sock"))
	want := "socket directory " + open + ": " + open + " has mode 0777 (owner uid " + strconv.Itoa(os.Geteuid()) + "): group or others can write it"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Listen in a 0777 directory = %v, want prefix %q", err, want)
	}
	if _, err := os.Lstat(filepath.Join(open, "had.sock")); err == nil {
		t.Error("Listen created the socket in a refused directory")
	}
	// Sticky and world-writable above the socket's directory is fine (/tmp).
	if err := os.Chmod(open, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(open, "private", "had.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen under a sticky directory = %v", err)
	}
	ln.Close()
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created socket directory mode = %v, %v, want 0700", fi.Mode().Perm(), err)
	}
}

// TestCloseDropsIdleClient: an idle client on the socket does not delay
// Close (it took up to 30 s before; issue 9 case 13), and a request in
// flight past CloseGrace has its context canceled.
func TestCloseDropsIdleClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "had.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	s := Serve(ln, func(ctx context.Context, req Request) (any, error) {
		close(started)
		<-ctx.Done() // a handler that only ends when told
		return nil, ctx.Err()
	}, nil)
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := busy.Write([]byte(`{"verb":"status"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	<-started
	begin := time.Now()
	s.Close()
	if took := time.Since(begin); took > CloseGrace+2*time.Second { // 30 s before; slack for a loaded machine
		t.Errorf("Close with an idle client and a stuck request took %v, want about CloseGrace = %v", took, CloseGrace)
	}
	idle.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := idle.Read(make([]byte, 1)); err == nil {
		t.Errorf("idle client read %d bytes after Close, want the connection closed", n)
	}
}

func TestCloseIdleOnlyIsQuick(t *testing.T) {
	path := filepath.Join(t.TempDir(), "had.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(ln, func(ctx context.Context, req Request) (any, error) { return nil, nil }, nil)
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// The server has accepted it once a request from another client is
	// answered (accepts are served in order).
	if err := Call(ctxT(t), path, Request{Verb: VerbStatus}, nil); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	s.Close()
	if took := time.Since(begin); took >= CloseGrace {
		t.Errorf("Close with only an idle client took %v, want well under CloseGrace", took)
	}
}

// TestCallRefusesSocketOthersCouldReplace: hactl does not talk to a socket
// in a directory others can write (issue 9 case 10).
func TestCallRefusesSocketOthersCouldReplace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "had.sock")
	ln, err := net.Listen("unix", path) // an impostor's
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Call(ctxT(t), path, Request{Verb: VerbStatus}, nil)
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "has mode 0777") {
		t.Errorf("Call to a socket in a 0777 directory = %v, want an UnreachableError naming the mode", err)
	}
}

// TestRemoteErrorVerbOnce: had's own message may start with the verb
// (node's "reload: ..."); hactl printed "hactl: reload: reload: ...".
func TestRemoteErrorVerbOnce(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"reload: had.toml:25:1: service[0].foo: unknown key \"foo\"", "reload: had.toml:25:1: service[0].foo: unknown key \"foo\""},
		{"reload refused, nothing changed: x", "reload: reload refused, nothing changed: x"},
	} {
		if got := (&RemoteError{Verb: "reload", Msg: tc.msg}).Error(); got != tc.want {
			t.Errorf("RemoteError{reload, %q} = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
