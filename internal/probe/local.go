package probe

import (
	"errors"
	"syscall"
)

// IsLocal reports whether err is a shortage on this host rather than an
// answer (or silence) from the target: out of file descriptors (EMFILE,
// ENFILE), buffer space (ENOBUFS) or memory (ENOMEM), no local port
// left (EADDRNOTAVAIL), or no epoll watch left (ENOSPC from epoll_ctl(2),
// fs.epoll.max_user_watches). A probe failing with one says nothing about the
// target, so callers do not feed it to a Tracker: a local shortage must
// not take every real or ping node down at once and become an outage.
func IsLocal(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EADDRNOTAVAIL, syscall.ENOSPC} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
