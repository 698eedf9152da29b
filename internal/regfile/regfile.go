// Package regfile opens files that must be regular files (state and key
// files) without ever blocking: a FIFO, device or socket at such a path is
// refused with the path and what it is, where a plain open would wait
// forever for a writer (a FIFO) or read a device.
package regfile

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Open opens path read-only and returns it when it is a regular file (a
// symbolic link to one is followed). The open is non-blocking, so a FIFO
// is refused at once instead of hanging until a writer comes; the type is
// checked on the opened file (fstat), so the file checked is the file
// read. Errors name the path and, for the wrong kind of file, what it is.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, NotRegular(fi.Mode()))
	}
	return f, fi, nil
}

// NotRegular returns the error for a file of mode m where a regular file
// is wanted: "is a named pipe (FIFO), want a regular file".
func NotRegular(m fs.FileMode) error {
	return fmt.Errorf("is %s, want a regular file", Kind(m))
}

// kinds are the file types Kind names, as ls and stat(1) name them, in
// the order it tests them: a character device also has fs.ModeDevice.
var kinds = []struct {
	bit  fs.FileMode
	name string
}{
	{fs.ModeDir, "a directory"},
	{fs.ModeNamedPipe, "a named pipe (FIFO)"},
	{fs.ModeSocket, "a socket"},
	{fs.ModeCharDevice, "a character device"},
	{fs.ModeDevice, "a block device"},
	{fs.ModeSymlink, "a symbolic link"},
}

// Kind names the type of file of mode m, as ls and stat(1) name them.
func Kind(m fs.FileMode) string {
	t := m.Type()
	if t == 0 {
		return "a regular file"
	}
	for _, k := range kinds {
		if t&k.bit != 0 {
			return k.name
		}
	}
	return fmt.Sprintf("a special file (mode %s)", m)
}
