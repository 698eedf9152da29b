package probe

import (
	"fmt"
	"syscall"
	"testing"
)

func TestIsLocal(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("dial: %w", syscall.EMFILE), true},
		{fmt.Errorf("sendto: %w", syscall.ENOBUFS), true},
		{fmt.Errorf("epoll_ctl: %w", syscall.ENOSPC), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), false},
		{nil, false},
	} {
		if got := IsLocal(tt.err); got != tt.want {
			t.Errorf("IsLocal(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
