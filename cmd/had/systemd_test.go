package main

import (
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fakeSystemd listens where NOTIFY_SOCKET points and returns what arrives.
func fakeSystemd(t *testing.T, watchdog time.Duration) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	}
	got := make(chan string, 100)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	return got
}

func TestSdNotifyReady(t *testing.T) {
	got := fakeSystemd(t, 0)
	sdNotify(slog.New(slog.DiscardHandler), "READY=1")
	wantNotify(t, got, "READY=1", "no notification reached NOTIFY_SOCKET")
}

// wantNotify waits up to 5s for the fake systemd's next message and fails
// the test, saying missing, when none comes or it is not want.
func wantNotify(t *testing.T, got <-chan string, want, missing string) {
	t.Helper()
	select {
	case msg := <-got:
		if msg != want {
			t.Fatalf("systemd got %q, want %s", msg, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal(missing)
	}
}

func TestWatchdogPingsOnlyWhileAlive(t *testing.T) {
	got := fakeSystemd(t, 100*time.Millisecond)
	alive := make(chan bool, 1)
	alive <- true
	answer := true
	stop := startWatchdog(slog.New(slog.DiscardHandler), func(time.Duration) bool {
		select {
		case answer = <-alive:
		default:
		}
		return answer
	})
	defer stop()
	wantNotify(t, got, "WATCHDOG=1", "no watchdog ping while the agent answers")
	alive <- false
	// Drain pings already on their way, then none may come: a wedged loop
	// must let systemd restart the daemon. Three watchdog periods suffice.
	deadline := time.After(300 * time.Millisecond)
	quiet := time.After(600 * time.Millisecond)
	for {
		select {
		case <-got:
			select {
			case <-deadline:
				t.Fatal("watchdog pinged although the agent loop did not answer")
			default:
			}
		case <-quiet:
			return
		}
	}
}
