package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/hapair/hapair/authkeys"
)

// AuthkeysError places err, from authkeys.Load of the file
// cluster.authkeys names, at that key: an Errors with one Error per
// problem of the file, "had.toml:3:12: cluster.authkeys:
// /etc/hapair/authkeys:2:1: ...", so the message names both places to
// edit. Where the key is not written (the default file) the place is the
// config file itself. nil stays nil.
func (c *Config) AuthkeysError(err error) error {
	if err == nil {
		return nil
	}
	at := c.authkeysAt
	if at.File == "" {
		at = Pos{File: c.File}
	}
	const path = "cluster.authkeys"
	var kes authkeys.Errors
	if !errors.As(err, &kes) {
		// The file could not be opened: say why, without authkeys'
		// prefix, which the key path already says, or the system call's
		// name ("open FILE: ...").
		msg := strings.TrimPrefix(err.Error(), "authkeys: ")
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			msg = fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)
		}
		return Errors{{Pos: at, Path: path, Msg: msg}}
	}
	out := make(Errors, len(kes))
	for i, e := range kes {
		out[i] = &Error{Pos: at, Path: path, Msg: e.Error()}
	}
	return out
}
