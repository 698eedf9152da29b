package agent_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/agent"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

// TestRealtimeLoop runs a pair on the realtime loop and the real clock
// (SCHED_RR when the test may set it, normal priority otherwise): it
// elects lb1, keeps sending on the keepalive, takes commands, and lb2 takes
// over when lb1 goes silent.
func TestRealtimeLoop(t *testing.T) {
	before := runtime.NumGoroutine()
	net := &fakeNet{agents: map[string]*agent.Agent{}, inbox: map[string]chan *wire.Packet{}, cut: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := map[string]chan error{}
	agents := map[string]*agent.Agent{}
	for _, name := range []string{"lb1", "lb2"} {
		in := make(chan *wire.Packet, 256)
		a, err := agent.New(agent.Config{
			Machine: ha.Config{Self: name, Nodes: []string{"lb1", "lb2"}, Generation: 1,
				Keepalive: 20 * time.Millisecond, Deadtime: 100 * time.Millisecond, Initdead: 200 * time.Millisecond,
				Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1"}}},
			Transport: fakeTransport{net, name, in}, Groups: &fakeGroups{},
			Logger: slog.New(slog.DiscardHandler), Realtime: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		net.mu.Lock()
		net.agents[name], net.inbox[name] = a, in
		net.mu.Unlock()
		d := make(chan error, 1)
		agents[name], done[name] = a, d
		go func() { d <- a.Run(ctx) }()
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for name, d := range done {
			if err := <-d; err != nil {
				t.Errorf("Run(%s) = %v, want nil", name, err)
			}
		}
	}
	t.Cleanup(func() { stop(); testkit.AwaitGoroutines(t, before) })

	testkit.WaitFor(t, "lb1 master, lb2 standby", func() bool {
		return groupStatus(agents["lb1"], "web").State == ha.StateMaster && groupStatus(agents["lb2"], "web").State == ha.StateStandby
	})
	sentBy := func(name string) int {
		net.mu.Lock()
		defer net.mu.Unlock()
		n := 0
		for _, p := range net.sent {
			if p.Sender == name {
				n++
			}
		}
		return n
	}
	// Sends come from the loop's own timer: 10 keepalives of 20ms pass.
	start, n0 := time.Now(), sentBy("lb1")
	testkit.WaitFor(t, "10 more heartbeats from lb1", func() bool { return sentBy("lb1") >= n0+10 })
	if took := time.Since(start); took < 9*20*time.Millisecond {
		t.Errorf("10 heartbeats in %v, want one per keepalive of 20ms", took)
	}
	// A command reaches the loop through the waker.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := agents["lb1"].Standby(ctx2, "web"); err != nil {
		t.Fatalf("Standby(lb1) = %v", err)
	}
	testkit.WaitFor(t, "lb2 master after lb1's standby", func() bool {
		return groupStatus(agents["lb2"], "web").State == ha.StateMaster
	})
	// lb2 goes silent: lb1 declares it dead on its deadtime timer and takes over.
	net.mu.Lock()
	net.cut["lb2"] = true
	net.mu.Unlock()
	testkit.WaitFor(t, "lb1 master after lb2 went silent", func() bool {
		return groupStatus(agents["lb1"], "web").State == ha.StateMaster
	})
	stop()
	if err := agents["lb1"].Ping(ctx2); !errors.Is(err, agent.ErrClosed) {
		t.Errorf("Ping after Run ended = %v, want ErrClosed", err)
	}
}

// TestRealtimeNeedsRealClock: the realtime loop sleeps in the kernel, so a
// fake clock could never wake it.
func TestRealtimeNeedsRealClock(t *testing.T) {
	_, err := agent.New(agent.Config{
		Machine:   ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Generation: 1},
		Transport: fakeTransport{in: make(chan *wire.Packet)}, Groups: &fakeGroups{},
		Clock: clocktest.New(time.Time{}), Realtime: true,
	})
	if err == nil {
		t.Fatal("agent.New(Realtime with a fake clock) = nil error, want one")
	}
}
