package proxy

import (
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/proxytest"
)

// TestFirstCheckAtStart (review 12 item 15): with a check interval of an
// hour, the reals are checked at once and in service within the test's
// wait, not after an interval; the pool's detour through "none" while
// they are not checked yet is said at info, not as a warning; a real that
// is taken out later still warns. The check's timeout is 5 s: a first
// check that timed out under a loaded CI machine's -race run (1 s did
// once) would leave its real down for the hour.
func TestFirstCheckAtStart(t *testing.T) {
	a, c := proxytest.HTTP(t, "a"), proxytest.HTTP(t, "c")
	var logs testkit.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var told atomic.Int32 // OnHealth calls: the node reads the readiness on them
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "web", Listen: proxytest.ClosedPort(t), Mode: "http",
		Check: check.Spec{Type: "negotiate", Request: "/status", Receive: regexp.MustCompile("^ok$"),
			Interval: time.Hour, Timeout: 5 * time.Second, Rise: 2, Fall: 1},
		Reals: reals(a, c),
	}}}, Options{Logger: log, OnHealth: func() { told.Add(1) }})
	testkit.WaitFor(t, "both reals checked and up", func() bool {
		st := svcStatus(t, b, "web")
		up := 0
		for _, r := range st.Reals {
			if r.Healthy && r.Checks == 1 {
				up++
			}
		}
		return up == 2
	})
	// Each real's first check turned it healthy; OnHealth runs after the
	// status is stored, so it has run by the time Status says so, or runs
	// right after.
	testkit.WaitFor(t, "OnHealth called for both reals", func() bool { return told.Load() == 2 })
	out := logs.String()
	if strings.Contains(out, "level=WARN") {
		t.Errorf("start logged a warning:\n%s", out)
	}
	if !strings.Contains(out, `level=INFO msg="pool switched" service=web from=primary to=none reason="no real usable and no fallback (not checked yet)"`) {
		t.Errorf("start did not say the pool waits for the first checks:\n%s", out)
	}
	for _, r := range []*proxytest.Backend{a, c} {
		if err := b.DisableReal("web", r.Addr); err != nil {
			t.Fatal(err)
		}
	}
	if out := logs.String(); !strings.Contains(out, `level=WARN msg="pool switched" service=web from=primary to=none reason="no real usable and no fallback"`) {
		t.Errorf("every real disabled: no warning:\n%s", out)
	}
}

// A first check counted by the prober but not yet in the real's stored
// health (its OnChange on the way) is not a result: the pool's switch at
// start then says "not checked yet" at info, not a warning.
func TestFirstResultIn(t *testing.T) {
	for _, c := range []struct {
		name        string
		st          check.Status
		ok, healthy bool
		want        bool
	}{
		{"no job", check.Status{}, false, false, false},
		{"not checked yet", check.Status{}, true, false, false},
		{"first check passed, health not stored yet", check.Status{Checks: 1, Healthy: true}, true, false, false},
		{"first check passed and stored", check.Status{Checks: 1, Healthy: true}, true, true, true},
		{"first check failed (no change to store)", check.Status{Checks: 1, Failures: 1}, true, false, true},
		{"local error only", check.Status{LocalErrors: 1}, true, false, true},
	} {
		if got := firstResultIn(c.st, c.ok, c.healthy); got != c.want {
			t.Errorf("%s: firstResultIn = %v, want %v", c.name, got, c.want)
		}
	}
}
