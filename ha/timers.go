package ha

import (
	"fmt"
	"slices"
	"time"

	"github.com/hapair/hapair/ha/wire"
)

// RepairDeadtimeBeats is the deadtime, in keepalives, that RepairTimers
// puts in place of one Validate refuses for being 2 × keepalive or less:
// the fewest whole keepalives that ride out one lost heartbeat (n × keepalive
// rides out n − 2; README's cluster.deadtime).
const RepairDeadtimeBeats = 3

// timerRule is one order Validate demands between two timers after
// WithDefaults, and how RepairTimers restores it.
type timerRule struct {
	a, b string // the timers compared; Validate reports the rule on a
	ok   func(c *Config) bool
	msg  func(c *Config, b string) string // why a is refused, after a's name; b names b with its value
	fix  string                           // the timer RepairTimers changes, by name
	at   func(c *Config) *time.Duration   // that timer in c
	to   func(c *Config) time.Duration    // its new value
	how  string                           // how RepairTimers chose the new value, in words
}

func halfway(c *Config) time.Duration   { return (c.Keepalive + c.Deadtime) / 2 }
func warntime(c *Config) *time.Duration { return &c.Warntime }

// timerRules are Heartbeat's ha.cf orders between the timers, strict, in
// the order RepairTimers applies them: deadtime first, since the others
// are measured against it.
var timerRules = []timerRule{
	{a: "deadtime", b: "keepalive",
		// Heartbeats come every keepalive plus the sender's wake-up
		// delay, so the one due at the deadline arrives just after it:
		// at deadtime = 2 × keepalive, the one after a lost one is late
		// (the loss soaks saw peers declared dead at 400.03–400.08ms of
		// silence for deadtime 400ms).
		ok: func(c *Config) bool { return c.Deadtime > 2*c.Keepalive },
		msg: func(c *Config, _ string) string {
			return fmt.Sprintf("%v must be longer than 2×keepalive (%v): at 2×keepalive or less a single lost heartbeat declares the peer dead", c.Deadtime, 2*c.Keepalive)
		},
		fix: "deadtime", at: func(c *Config) *time.Duration { return &c.Deadtime }, to: func(c *Config) time.Duration { return RepairDeadtimeBeats * c.Keepalive },
		how: fmt.Sprintf("%d×keepalive, the shortest that rides out one lost heartbeat", RepairDeadtimeBeats)},
	{a: "warntime", b: "keepalive",
		ok: func(c *Config) bool { return c.Warntime > c.Keepalive },
		msg: func(c *Config, b string) string {
			return fmt.Sprintf("%v must be longer than %s", c.Warntime, b)
		},
		fix: "warntime", at: warntime, to: halfway, how: Derived["warntime"].How},
	{a: "deadtime", b: "warntime",
		ok: func(c *Config) bool { return c.Deadtime > c.Warntime },
		msg: func(c *Config, b string) string {
			return fmt.Sprintf("%v must be longer than %s", c.Deadtime, b)
		},
		fix: "warntime", at: warntime, to: halfway, how: Derived["warntime"].How},
	{a: "initdead", b: "deadtime",
		ok: func(c *Config) bool { return c.Initdead >= c.Deadtime },
		msg: func(c *Config, b string) string {
			return fmt.Sprintf("%v is shorter than %s: a starting node would take groups before it could hear its peers", c.Initdead, b)
		},
		fix: "initdead", at: func(c *Config) *time.Duration { return &c.Initdead }, to: func(c *Config) time.Duration { return c.Deadtime }, how: "deadtime, the least a starting node must wait for its peers"},
}

// setTimers says which of the ruled timers c sets rather than leaves to
// WithDefaults.
func (c *Config) setTimers() map[string]bool {
	return map[string]bool{"keepalive": c.Keepalive != 0, "warntime": c.Warntime != 0, "deadtime": c.Deadtime != 0, "initdead": c.Initdead != 0,
		"failback_hold": c.FailbackHold != 0, "fail_backoff": c.FailBackoff != 0}
}

// keepaliveOK reports whether c's keepalive (after WithDefaults) is one a
// heartbeat packet carries; bad reports it when not.
func (c *Config) keepaliveOK(bad func(path, format string, args ...any)) bool {
	switch k := c.Keepalive; {
	case k <= 0:
		return false
	case k%time.Microsecond != 0:
		bad("keepalive", "%v is not a whole number of microseconds, the unit a heartbeat packet carries", k)
	case k > wire.MaxKeepalive:
		bad("keepalive", "%v is longer than %v, the most a heartbeat packet carries", k, wire.MaxKeepalive)
		return false
	}
	return true
}

// MaxDeadtime is the longest deadtime Validate takes: WithDefaults derives
// initdead and failback_hold as 2×deadtime, which must fit a
// time.Duration (at most 2562047h).
const MaxDeadtime = 1000000 * time.Hour

// validateTiming checks the timers after defaults; set says which ones
// were given rather than derived (WithDefaults), unknown which of those
// could not be read (ValidateWith).
func (c *Config) validateTiming(set map[string]bool, unknown []string, bad func(path, format string, args ...any)) {
	// A keepalive out of range, a deadtime whose doubles wrap around,
	// or a timer that could not be read, is the root error: the timers
	// compared with it are not wrong in their own right, nor are those
	// WithDefaults derives from it when unset (a deadtime of 4×1000h is
	// that keepalive's fault, a failback_hold of 2×1500000h that
	// deadtime's), so their relations and signs are not reported on top.
	wrong := map[string]bool{}
	for _, u := range unknown {
		wrong[u] = true
	}
	if c.Keepalive > 0 && !c.keepaliveOK(bad) {
		wrong["keepalive"] = true
	}
	if c.Deadtime > MaxDeadtime {
		bad("deadtime", "%v is longer than %v, the most hapair takes (initdead and failback_hold default to 2×deadtime)", c.Deadtime, MaxDeadtime)
		wrong["deadtime"] = true
	}
	var tainted func(name string) bool
	tainted = func(name string) bool {
		return wrong[name] || !set[name] && slices.ContainsFunc(Derived[name].From, tainted)
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"keepalive", c.Keepalive}, {"warntime", c.Warntime}, {"deadtime", c.Deadtime},
		{"initdead", c.Initdead}, {"failback_hold", c.FailbackHold}, {"fail_backoff", c.FailBackoff}} {
		if t.d < 0 && (set[t.name] || !tainted(t.name)) {
			bad(t.name, "%v: want a positive duration", t.d)
		}
	}
	if c.Keepalive <= 0 {
		return
	}
	failed := func(r timerRule) bool { return !r.ok(c) && !tainted(r.a) && !tainted(r.b) }
	// A relation between timers both set that fails is the root error;
	// a timer left unset is derived from the set ones (WithDefaults), so
	// its own failures then follow from that root and are not reported.
	// Without one, they are the set timers' fault, and say so
	// (internal/config names the set timer an unset one came from).
	rootFailed := false
	for _, r := range timerRules {
		rootFailed = rootFailed || failed(r) && set[r.a] && set[r.b]
	}
	for _, r := range timerRules {
		if !failed(r) || rootFailed && !(set[r.a] && set[r.b]) {
			continue
		}
		// An unset timer compared with a written one: the written one
		// is the key the user got wrong (warntime = "5s" beside a
		// deadtime derived as 4×keepalive), so the error is at it.
		if !set[r.a] && set[r.b] {
			bad(r.b, "%v must be shorter than %s", c.timer(r.b), c.named(r.a, set))
			continue
		}
		bad(r.a, "%s", r.msg(c, c.named(r.b, set)))
	}
}

// named is the timer called name with its value, and how WithDefaults
// derived it when set says it was left unset ("deadtime 400ms (unset:
// 4×keepalive)"), as rule messages name their second timer.
func (c *Config) named(name string, set map[string]bool) string {
	if d, ok := Derived[name]; ok && !set[name] {
		return fmt.Sprintf("%s %v (unset: %s)", name, c.timer(name), d.How)
	}
	return fmt.Sprintf("%s %v", name, c.timer(name))
}

// timer is the timer called name (a timerRules name) in c.
func (c *Config) timer(name string) time.Duration {
	switch name {
	case "keepalive":
		return c.Keepalive
	case "warntime":
		return c.Warntime
	case "deadtime":
		return c.Deadtime
	}
	return c.Initdead
}

// TimerRepair is one timer RepairTimers changed.
type TimerRepair struct {
	Timer    string        // Validate's name of the timer changed: "deadtime", "warntime" or "initdead"
	Was, Now time.Duration // its value before (after WithDefaults) and after
	// Reason is Validate's refusal, naming its timer ("deadtime 3s must
	// be longer than 2×keepalive (4s): ..."); How says how Now was chosen
	// ("3×keepalive, the shortest that rides out one lost heartbeat").
	Reason, How string
}

// RepairTimers returns c with the warntime, deadtime and initdead that
// Validate would refuse for their order replaced by ones it accepts, and
// what it changed, in timerRules' order (deadtime, warntime, initdead).
// Timers c leaves unset stay unset unless they need repair: WithDefaults
// derives them from the repaired ones. A keepalive Validate refuses is
// left as it is, with the rules measured against it (Validate reports
// it); so is a negative timer. It is how an importer of Heartbeat's ha.cf
// keeps the timers it can (`hactl import`).
func (c Config) RepairTimers() (Config, []TimerRepair) {
	d := c.WithDefaults()
	if d.Keepalive <= 0 || !d.keepaliveOK(func(string, string, ...any) {}) {
		return c, nil
	}
	var done []TimerRepair
	for _, r := range timerRules {
		if p := r.at(&d); !r.ok(&d) && *p >= 0 {
			rep := TimerRepair{Timer: r.fix, Was: *p, Now: r.to(&d), Reason: r.a + " " + r.msg(&d, d.named(r.b, d.setTimers())), How: r.how}
			*p, *r.at(&c) = rep.Now, rep.Now
			done = append(done, rep)
		}
	}
	return c, done
}
