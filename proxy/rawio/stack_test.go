package rawio

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockType reads fd's SO_TYPE into a variable on the caller's stack,
// the way accept4 fills a sockaddr and getsockopt an int in the callers.
//
//go:noinline
func sockType(fd int) int32 {
	v, n := int32(-1), uint32(4)
	if _, err := Call(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_TYPE,
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&n)), 0); err != nil {
		return -2
	}
	return v
}

// deep calls sockType d frames down.
//
//go:noinline
func deep(d, fd int) int32 {
	if d == 0 {
		return sockType(fd)
	}
	return deep(d-1, fd)
}

// TestCallStackPointer: a variable on the caller's stack, passed to Call
// as a uintptr, is where the kernel's answer lands even when the stack
// runs out at Call: were Call to grow (copy) the stack in its prologue,
// the kernel would write to the old copy, and the caller would read its
// variable unchanged (accept4 handed back connections with no address,
// under -race). Each depth starts a fresh goroutine, so one of them runs
// out of stack exactly at Call. Fails without Call's go:nosplit.
func TestCallStackPointer(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for d := range 2000 {
		got := make(chan int32)
		go func() { got <- deep(d, fd) }()
		if v := <-got; v != unix.SOCK_STREAM {
			t.Fatalf("SO_TYPE read %d frames down = %d, want %d", d, v, unix.SOCK_STREAM)
		}
	}
}
