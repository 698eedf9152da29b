package clocktest

import (
	"strings"
	"testing"
	"time"
)

func TestStepWallKeepsMonotonicTime(t *testing.T) {
	c := New(time.Time{})
	t0 := c.Now()
	if !t0.Round(0).Equal(DefaultStart) {
		t.Fatalf("Now() = %v, want %v", t0, DefaultStart)
	}
	c.Advance(2 * time.Second)
	c.StepWall(-time.Hour)
	t1 := c.Now()
	if got, want := t1.Round(0), DefaultStart.Add(2*time.Second-time.Hour); !got.Equal(want) {
		t.Errorf("wall after Advance(2s)+StepWall(-1h) = %v, want %v", got, want)
	}
	if got := t1.Sub(t0); got != 2*time.Second {
		t.Errorf("t1.Sub(t0) = %v, want 2s (monotonic)", got)
	}
	if got := c.Since(t0); got != 2*time.Second {
		t.Errorf("Since(t0) = %v, want 2s", got)
	}
	if !t1.After(t0) {
		t.Errorf("t1.After(t0) = false after a backward wall step, want true")
	}
	if !strings.Contains(t1.String(), "m=+") {
		t.Errorf("Now() = %v has no monotonic reading", t1)
	}
}

func TestTimersFireInOrderOnAdvance(t *testing.T) {
	c := New(time.Time{})
	start := c.Now()
	var got []string
	c.AfterFunc(3*time.Second, func() { got = append(got, "b@"+c.Since(start).String()) })
	c.AfterFunc(time.Second, func() { got = append(got, "a@"+c.Since(start).String()) })
	stopped := c.AfterFunc(2*time.Second, func() { got = append(got, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Errorf("Stop() twice = true, false wanted")
	}
	tm := c.NewTimer(2 * time.Second)
	c.StepWall(time.Hour) // never fires a timer
	if len(got) != 0 || len(tm.C()) != 0 {
		t.Fatalf("timers fired on StepWall: %v", got)
	}
	if n := c.Waiting(); n != 3 {
		t.Errorf("Waiting() = %d, want 3", n)
	}
	c.Advance(5 * time.Second)
	if strings.Join(got, " ") != "a@1s b@3s" {
		t.Errorf("fired %v, want [a@1s b@3s]", got)
	}
	select {
	case at := <-tm.C():
		if d := at.Sub(start); d != 2*time.Second {
			t.Errorf("timer sent %v after start, want 2s", d)
		}
	default:
		t.Errorf("NewTimer(2s) did not fire after Advance(5s)")
	}
	if n := c.Waiting(); n != 0 {
		t.Errorf("Waiting() after all fired = %d, want 0", n)
	}
}

func TestTickerDropsMissedTicks(t *testing.T) {
	c := New(time.Time{})
	tk := c.NewTicker(time.Second)
	c.Advance(3500 * time.Millisecond)
	if n := len(tk.C()); n != 1 {
		t.Errorf("ticks buffered after 3.5 periods = %d, want 1", n)
	}
	<-tk.C()
	c.Advance(500 * time.Millisecond)
	if n := len(tk.C()); n != 1 {
		t.Errorf("ticks at 4s = %d, want 1", n)
	}
	tk.Stop()
	<-tk.C()
	c.Advance(time.Hour)
	if n := len(tk.C()); n != 0 {
		t.Errorf("ticks after Stop = %d, want 0", n)
	}
}

func TestAfterNonPositiveFiresAtOnce(t *testing.T) {
	c := New(time.Time{})
	select {
	case <-c.After(0):
	default:
		t.Errorf("After(0) did not fire at once")
	}
}
