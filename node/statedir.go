package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// checkStateDir reports why lockStateDir could not create or use dir,
// touching nothing: dir, or the nearest part of it that exists, must be a
// directory on a writable file system (access(2) says EROFS for anyone;
// its permission answer is left out, since an operator's check need not
// run as root as had does). The check and had --check ask it.
func checkStateDir(dir string) error {
	d, err := existingDir("state directory", dir)
	if err != nil {
		return err
	}
	if err := syscall.Access(d, 0o2); errors.Is(err, syscall.EROFS) { // W_OK
		return fmt.Errorf("state directory %s: %s is on a read-only file system", dir, d)
	}
	return nil
}

// lockStateDir takes an exclusive flock on dir/lock so two daemons never
// share a generation counter (the second would replay the first's numbers).
func lockStateDir(dir string) (*os.File, error) {
	// The check's rules, so that had refuses what the check refuses (a
	// pseudo file system would take the directory, /dev, until a reboot).
	if err := checkStateDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("state directory %s is in use by another had (flock %s: %w)", dir, path, err)
	}
	return f, nil
}

// lockNode takes the node-wide lock: an abstract Unix socket named after
// the cluster, "@hapair/NAME/ID". Abstract sockets belong to the network
// namespace, which is what a node is to hapair (its addresses, links and
// listeners), and the kernel releases the name when the process dies, even
// by SIGKILL, so a crash never leaves a stale lock. Build takes it before
// anything touches the host: a second had for the same cluster on this
// node fails here and has removed no address and bound no socket.
func lockNode(cluster string, id int) (*net.UnixListener, error) {
	name := fmt.Sprintf("@hapair/%s/%d", cluster, id)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("another had for cluster %q (id %d) runs on this node (abstract socket %s is bound); "+
			"refusing to start before touching anything", cluster, id, name)
	}
	if err != nil {
		return nil, fmt.Errorf("taking the node lock %s: %w", name, err)
	}
	return l, nil
}
