// Package generation keeps the node's generation number in its state
// directory, as Heartbeat keeps hb_generation: it is incremented and made
// durable at every start, before the first heartbeat is sent, so peers'
// replay filters (ha/replay) accept the restarted node and reject packets
// recorded from its earlier runs.
//
// It owns one file and does no locking: the caller (package node) must make sure
// only one daemon uses a state directory.
package generation

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/regfile"
)

// FileName is the file in the state directory that holds the generation.
const FileName = "generation"

// maxFileSize bounds the read: a uint64 in decimal and a newline fit in 21.
const maxFileSize = 64

// Next is NextAt(dir, time.Now()).
func Next(dir string) (uint64, error) { return NextAt(dir, time.Now()) }

// NextAt reads the generation stored in dir (0 when the file does not
// exist), and stores and returns the larger of that plus one and now in
// Unix seconds, durably. It creates dir (mode 0700) when missing.
//
// Seeding from the clock is Heartbeat's hbgenmethod time: a node whose
// state directory was lost (reinstalled, wiped, a tmpfs) still starts
// with a generation above any it used before, as long as its clock did
// not go back, so peers do not drop its packets as replays. The file keeps
// the number rising when the clock does go back or several starts fall in
// one second.
//
// A corrupt file, or anything but a regular file at the path (a FIFO
// would block the read forever), is an error naming the path and what it
// found, never a silent reset: restarting from a lower number would make
// every peer drop this node's packets as replays (they remember the
// higher generation), which looks like a dead node and invites split
// brain. The operator repairs it by writing a number above any generation
// used before, as the error says.
func NextAt(dir string, now time.Time) (uint64, error) {
	path := filepath.Join(dir, FileName)
	cur, err := read(path)
	if err != nil {
		return 0, err
	}
	if cur == math.MaxUint64 {
		return 0, fmt.Errorf("generation: incrementing %s: %d is the largest generation", path, cur)
	}
	next := cur + 1
	if sec := now.Unix(); sec > 0 && uint64(sec) > next {
		next = uint64(sec)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("generation: creating state directory %q: %w", dir, err)
	}
	if err := write(dir, path, next); err != nil {
		return 0, err
	}
	return next, nil
}

// read returns the stored generation, 0 if there is none.
func read(path string) (uint64, error) {
	f, _, err := regfile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("generation: reading: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return 0, fmt.Errorf("generation: reading %s: %w", path, err)
	}
	if len(raw) > maxFileSize {
		return 0, fmt.Errorf("generation: %s is corrupt: content starts %q, want a decimal number; "+
			"write a number higher than any generation this node used, then restart", path, raw[:32])
	}
	v, perr := strconv.ParseUint(strings.TrimSuffix(string(raw), "\n"), 10, 64)
	if perr != nil {
		return 0, fmt.Errorf("generation: %s is corrupt: content %q, want a decimal number; "+
			"write a number higher than any generation this node used, then restart", path, raw)
	}
	return v, nil
}

// write stores v in path atomically and durably: temp file, fsync, rename,
// fsync of the directory so the rename itself survives a crash.
func write(dir, path string, v uint64) (err error) {
	tmp, err := os.CreateTemp(dir, FileName+".tmp*")
	if err != nil {
		return fmt.Errorf("generation: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.WriteString(strconv.FormatUint(v, 10) + "\n"); err != nil {
		return fmt.Errorf("generation: writing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("generation: syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("generation: closing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("generation: renaming %s to %s: %w", tmp.Name(), path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("generation: syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("generation: syncing directory %s: %w", dir, err)
	}
	return nil
}
