package accept

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// Out of descriptors, TryAccept fails with accept4's EMFILE (an
// *os.SyscallError, for the caller's backoff) and leaves the connection
// queued: once a descriptor is free it is accepted, not lost. Runs in a
// child process, whose descriptor limit it lowers.
func TestTryAcceptEMFILE(t *testing.T) {
	if os.Getenv("ACCEPT_EMFILE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTryAcceptEMFILE$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ACCEPT_EMFILE_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	ln, a := listen(t)
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = min(256, lim.Max) // the child has far fewer open
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var fill []int
	for {
		fd, err := unix.Dup(0)
		if err != nil {
			break
		}
		fill = append(fill, fd)
		if len(fill) > 1<<16 {
			t.Skip("descriptor limit too high to fill")
		}
	}
	if len(fill) == 0 {
		t.Fatal("no descriptor to free")
	}
	_, _, err = a.TryAccept()
	var se *os.SyscallError
	if !errors.As(err, &se) || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("TryAccept with no descriptor left = %v, want accept4: EMFILE", err)
	}
	unix.Close(fill[len(fill)-1])
	fill = fill[:len(fill)-1]
	fd, from, err := a.TryAccept()
	for _, f := range fill {
		unix.Close(f)
	}
	if err != nil {
		t.Fatalf("TryAccept once a descriptor is free = %v", err)
	}
	checkAccepted(t, fd, from, c)
}
