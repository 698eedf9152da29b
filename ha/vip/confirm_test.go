package vip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

// fakeTraffic is a Confirmer that returns when the test says a packet
// arrived.
type fakeTraffic struct{ arrive chan time.Time }

func (f fakeTraffic) confirm(ctx context.Context, l Link, ip netip.Addr) (time.Time, error) {
	select {
	case at := <-f.arrive:
		return at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

func startConfirming(t *testing.T, confirmFor time.Duration) (*VIP, *clocktest.Clock, fakeTraffic, func() int) {
	t.Helper()
	tr := &trace{}
	clk := clocktest.New(time.Unix(1000, 0))
	traffic := fakeTraffic{arrive: make(chan time.Time, 1)}
	v, err := New(Config{Address: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0", Form: FormRequest,
		Kernel: newFakeKernel(tr), Dial: fakeDialer(tr, nil), Clock: clk,
		Schedule: Schedule{Count: 1}, Confirm: traffic.confirm, ConfirmFor: confirmFor})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Stop(context.Background()) })
	return v, clk, traffic, func() int { return strings.Count(tr.String(), "garp ") }
}

// The new owner re-announces at 100ms, then 200ms, 400ms... after the
// previous one until a packet for the VIP arrives, and records when.
func TestConfirmReannouncesUntilTraffic(t *testing.T) {
	v, clk, traffic, sends := startConfirming(t, 0)
	// The refresh loop and the confirmation loop wait on the clock (the
	// one-announcement schedule has nothing more due).
	waiting := func() { testkit.WaitFor(t, "both loops to wait", func() bool { return clk.Waiting() == 2 }) }
	for i, step := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		waiting()
		clk.Advance(step)
		testkit.WaitFor(t, "a re-announcement", func() bool { return sends() == i+2 })
	}
	arrived := clk.Now().Add(50 * time.Millisecond)
	traffic.arrive <- arrived
	testkit.WaitFor(t, "the first packet recorded", func() bool { return v.Stats().FirstPacket.Equal(arrived) })
	testkit.WaitFor(t, "the confirmation loop to end", func() bool { return clk.Waiting() == 1 })
	clk.Advance(time.Minute)
	if got, st := sends(), v.Stats(); got != 4 || st.Reannounced != 3 {
		t.Errorf("after traffic arrived: %d sends, Reannounced %d, want 4 and 3", got, st.Reannounced)
	}
}

// Without traffic the loop gives up after ConfirmFor.
func TestConfirmGivesUp(t *testing.T) {
	v, clk, _, sends := startConfirming(t, time.Second)
	// Re-announcements at 100ms, 300ms and 700ms; the next (1.5s) is past
	// ConfirmFor.
	testkit.AdvanceUntil(t, clk, 50*time.Millisecond, "the confirmation loop to give up", func() bool {
		return clk.Now().Sub(time.Unix(1000, 0)) > 2*time.Second && clk.Waiting() == 1
	})
	if got, st := sends(), v.Stats(); got != 4 || st.Reannounced != 3 || !st.FirstPacket.IsZero() {
		t.Errorf("after ConfirmFor: %d sends, Reannounced %d, FirstPacket %v, want 4, 3, zero", got, st.Reannounced, st.FirstPacket)
	}
}
