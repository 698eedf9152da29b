package ping

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/probe"
	"github.com/hapair/hapair/internal/testkit"
)

func TestTransitions(t *testing.T) {
	e := errors.New("no reply after 1s")
	tests := []struct {
		name       string
		rise, fall int
		results    []error
		want       []string // reported transitions
	}{
		{"first success reports up", 1, 3, []error{nil, nil}, []string{"up: ping a: ok"}},
		{"down needs fall failures", 1, 3, []error{nil, e, e, nil, e, e, e, e},
			[]string{"up: ping a: ok", "down: ping a: failed 3 times in a row, last: no reply after 1s"}},
		{"initial failures report down", 1, 2, []error{e, e, e}, []string{"down: ping a: failed 2 times in a row, last: no reply after 1s"}},
		{"fall 1", 1, 1, []error{nil, e, nil}, []string{"up: ping a: ok", "down: ping a: failed: no reply after 1s", "up: ping a: ok"}},
		{"rise 2 needs two in a row", 2, 1, []error{e, nil, e, nil, nil, nil},
			[]string{"down: ping a: failed: no reply after 1s", "up: ping a: ok 2 times in a row"}},
		{"flapping under fall reports nothing", 1, 3, []error{nil, e, e, nil, e, e, nil}, []string{"up: ping a: ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := probe.NewTracker(tt.rise, tt.fall, probe.StartUnknown)
			var got []string
			for _, r := range tt.results {
				if tr.Observe(r) {
					state := "down"
					if tr.Healthy() {
						state = "up"
					}
					got = append(got, state+": "+transition("ping a", tr, r))
				}
			}
			testkit.EqualLines(t, "transitions", got, tt.want)
		})
	}
}

// fakePinger answers from a script of results.
type fakePinger struct{ results chan error }

func (p fakePinger) Ping(ctx context.Context, addr netip.Addr) error {
	select {
	case err := <-p.results:
		if err != nil {
			return fmt.Errorf("ping %s: %w", addr, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runCheck runs a ping check of 198.18.0.1 every second (fall as given)
// on a fake pinger answering results in turn and a fake clock. After each
// probe, once the check waits, it calls step to move the clock on. It
// returns the check's reports as "OK REASON" lines.
func runCheck(t *testing.T, fall int, results []error, step func(i int, p fakePinger, clk *clocktest.Clock)) []string {
	t.Helper()
	p := fakePinger{results: make(chan error, len(results))}
	clk := clocktest.New(time.Time{})
	m, err := NewCheck(Spec{Name: "ping 198.18.0.1", Probe: PingProbe(p, netip.MustParseAddr("198.18.0.1")), Interval: time.Second, Fall: fall,
		Clock: clk, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		p.results <- r
	}
	reports := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Run(ctx, func(_ string, ok bool, reason string) { reports <- fmt.Sprint(ok, " ", reason) })
		close(done)
	}()
	for i := range results {
		testkit.WaitFor(t, fmt.Sprintf("probe %d and its wait", i+1), func() bool { return len(p.results) == len(results)-1-i && clk.Waiting() == 1 })
		step(i, p, clk)
	}
	cancel()
	<-done
	close(reports)
	var got []string
	for r := range reports {
		got = append(got, r)
	}
	return got
}

func TestCheckReportsTransitions(t *testing.T) {
	lost := errors.New("no reply after 1s")
	results := []error{nil, lost, nil, lost, lost, nil}
	got := runCheck(t, 2, results, func(i int, p fakePinger, clk *clocktest.Clock) {
		// Each probe is followed by one wait of 1s ±10%: the next probe
		// comes after 1.1s and not before 0.9s.
		clk.Advance(900 * time.Millisecond)
		if n := len(p.results); n != len(results)-1-i {
			t.Fatalf("probe %d ran less than 0.9s after probe %d", i+2, i+1)
		}
		clk.Advance(200 * time.Millisecond)
	})
	want := []string{
		"true ping 198.18.0.1: ok",
		"false ping 198.18.0.1: failed 2 times in a row, last: ping 198.18.0.1: no reply after 1s",
		"true ping 198.18.0.1: ok",
	}
	testkit.EqualLines(t, "reports", got, want)
}

func TestNewCheckErrors(t *testing.T) {
	if _, err := NewCheck(Spec{Name: "x"}); err == nil || err.Error() != `ping: check "x": no probe` {
		t.Errorf("NewCheck(no probe) = %v", err)
	}
	probe := func(context.Context) error { return nil }
	if _, err := NewCheck(Spec{Name: "x", Probe: probe, Fall: -1}); err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Errorf("NewCheck(fall -1) = %v", err)
	}
}

func TestICMPLoopback(t *testing.T) {
	p := NewICMP(0)
	for _, a := range []string{"127.0.0.1", "::1"} {
		addr := netip.MustParseAddr(a)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := p.Ping(ctx, addr)
		cancel()
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("skipping, permission denied: needs net.ipv4.ping_group_range or CAP_NET_RAW: %v", err)
		}
		if err != nil && addr.Is6() && strings.Contains(err.Error(), "address family not supported") {
			t.Logf("no IPv6 on this host: %v", err)
			continue
		}
		if err != nil {
			t.Errorf("Ping(%s) = %v, want nil", a, err)
		}
	}
}

func TestICMPCancelled(t *testing.T) {
	p := NewICMP(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Ping(ctx, netip.MustParseAddr("127.0.0.1"))
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("skipping, permission denied: %v", err)
	}
	// Either the reply beat the cancellation check or it did not; the
	// call must return promptly either way, and name the address on error.
	if err != nil && !strings.Contains(err.Error(), "ping 127.0.0.1") {
		t.Errorf("Ping(cancelled) = %v, want an error naming 127.0.0.1", err)
	}
}

func TestTrackProbe(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string { return testkit.WriteScript(t, dir, name, body) }
	ok := write("ok", `[ "$1" = "db" ] || exit 9; exit 0`)
	bad := write("bad", "echo 'replication lag 40s'; exit 1\n")
	hang := write("hang", "sleep 30\n")
	tests := []struct {
		path    string
		args    []string
		timeout time.Duration
		want    string // "" = healthy
	}{
		{ok, []string{"db"}, 5 * time.Second, ""},
		{ok, nil, 5 * time.Second, ok + ": exit status 9: output \"\""},
		{bad, nil, 5 * time.Second, bad + `: exit status 1: output "replication lag 40s"`},
		{hang, nil, 200 * time.Millisecond, hang + ": timed out"},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
		err := TrackProbe(tt.path, tt.args)(ctx)
		cancel()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("TrackProbe(%s %v) = %q, want %q", filepath.Base(tt.path), tt.args, got, tt.want)
		}
	}
}

// TestLocalErrorsAreNotFailures: pings that cannot leave this host (out of
// descriptors or buffers) do not count against the ping node, so a local
// shortage does not lower the priority and cause a failover.
func TestLocalErrorsAreNotFailures(t *testing.T) {
	results := []error{nil, syscall.ENOBUFS, syscall.EMFILE, nil}
	got := runCheck(t, 1, results, func(_ int, _ fakePinger, clk *clocktest.Clock) { clk.Advance(1100 * time.Millisecond) })
	testkit.EqualLines(t, "reports", got, []string{"true ping 198.18.0.1: ok"})
}
