package kernel

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clockTick is USER_HZ, the unit of /proc's CPU times (proc(5)); 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// nsCPU returns the user and system CPU time used so far by every process
// in network namespace ns (by its /run/netns name): the balancer
// processes of a bench target. Forwarding the kernel does in softirq is
// charged to no process of the namespace; softirqCPU measures that.
func nsCPU(t *testing.T, ns string) time.Duration {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &st); err != nil {
		t.Fatalf("netns %s: %v", ns, err)
	}
	want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]"
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks int64
	for _, d := range dirs {
		if l, err := os.Readlink(d + "/ns/net"); err != nil || l != want {
			continue
		}
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the command (which may hold spaces) in ")": state
		// is field 3, utime 14, stime 15 (proc(5)).
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * clockTick
}

// softirqCPU returns the machine's softirq CPU time so far (/proc/stat,
// every CPU): the kernel's packet processing, nat's forwarding included,
// but also every other process's traffic on the machine.
func softirqCPU(t *testing.T) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 7 && f[0] == "cpu" {
			n, _ := strconv.ParseInt(f[7], 10, 64)
			return time.Duration(n) * clockTick
		}
	}
	t.Fatal("no cpu line in /proc/stat")
	return 0
}
