package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
)

// UnreachableError means had could not be reached at all: not running,
// wrong socket path, or no permission. hactl exits 2 on it.
type UnreachableError struct {
	Socket string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach had at %s: %v (is had running?)", e.Socket, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Call sends req to the daemon listening on socket and decodes the result
// into out (which may be nil). A failure reported by had is a
// *RemoteError; a failure to reach it is an *UnreachableError.
func Call(ctx context.Context, socket string, req Request, out any) error {
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
			return fmt.Errorf("ctl: decoding %s result: %w", req.Verb, err)
		}
	}
	return nil
}
