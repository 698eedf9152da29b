package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// UnreachableError means had could not be reached at all: not running,
// wrong socket path, or no permission. hactl exits 2 on it.
type UnreachableError struct {
	Socket string
	Err    error
}

func (e *UnreachableError) Error() string {
	// The hint fits only a socket nobody listens on; a refused check
	// (owner, mode, not a socket) says what to fix itself.
	if errors.Is(e.Err, fs.ErrNotExist) || errors.Is(e.Err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot reach had at %s: %v (is had running?)", e.Socket, e.Err)
	}
	return fmt.Sprintf("cannot reach had at %s: %v", e.Socket, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Call sends req to the daemon listening on socket and decodes the result
// into out (which may be nil). A failure reported by had is a
// *RemoteError; a failure to reach it is an *UnreachableError.
//
// Before connecting it checks, as Listen does, that nobody but root and
// this user could have replaced the socket (CheckDir), so root's hactl
// never talks to an impostor.
func Call(ctx context.Context, socket string, req Request, out any) error {
	if err := checkSocket(socket, os.Geteuid()); err != nil {
		return &UnreachableError{Socket: socket, Err: err}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return &UnreachableError{Socket: socket, Err: err}
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(&req); err != nil {
		return &UnreachableError{Socket: socket, Err: err}
	}
	var resp Response
	if err := json.NewDecoder(io.LimitReader(c, maxMessage)).Decode(&resp); err != nil {
		return &UnreachableError{Socket: socket, Err: fmt.Errorf("reading reply to %s: %w", req.Verb, err)}
	}
	if resp.Error != "" {
		return &RemoteError{Verb: req.Verb, Msg: resp.Error}
	}
	if out != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, out); err != nil {
			return fmt.Errorf("cannot read had's answer to %s: %w", req.Verb, err)
		}
	}
	return nil
}

// checkSocket refuses a socket in a directory others can write, or one
// owned by someone but root and uid. A missing socket is left to the dial,
// which names it.
func checkSocket(socket string, uid int) error {
	fi, err := os.Lstat(socket)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s is not a socket (mode %v): wrong -s, -c or cluster.socket?", socket, fi.Mode())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != uid {
		return fmt.Errorf("%s is owned by uid %d, want root or uid %d: not talking to it", socket, st.Uid, uid)
	}
	return CheckDir(filepath.Dir(socket), uid)
}
