package accept

import (
	"errors"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// Out of descriptors, TryAccept fails with accept4's EMFILE (an
// *os.SyscallError, for the caller's backoff) and leaves the connection
// queued: once a descriptor is free it is accepted, not lost. Runs in a
// child process, whose descriptor limit it lowers.
func TestTryAcceptEMFILE(t *testing.T) {
	if !testkit.InChild(t, "ACCEPT_EMFILE_CHILD") {
		return
	}
	ln, a := listen(t)
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fill := testkit.ExhaustDescriptors(t, 256) // the child has far fewer open
	_, _, err = a.TryAccept()
	var se *os.SyscallError
	if !errors.As(err, &se) || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("TryAccept with no descriptor left = %v, want accept4: EMFILE", err)
	}
	fill.Free(1)
	fd, from, err := a.TryAccept()
	fill.Free(1 << 16)
	if err != nil {
		t.Fatalf("TryAccept once a descriptor is free = %v", err)
	}
	checkAccepted(t, fd, from, c)
}
