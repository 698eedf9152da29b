package ha_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/sim"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual output (inspect the diff!)")

// TestScenarios runs every testdata/*.txt script. A script is a sequence of
// blocks separated by blank lines: '#' comment lines, one command, a "----"
// line and the expected output. Run with -update to rewrite the expectations,
// then read the diff by hand.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

type block struct {
	comments []string
	cmd      string
	want     string
	line     int
}

func parseScript(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bs []block
	var cur *block
	inOut := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	ln := 0
	for sc.Scan() {
		ln++
		l := sc.Text()
		switch {
		case l == "":
			if cur != nil && cur.cmd != "" {
				bs = append(bs, *cur)
				cur, inOut = nil, false
			}
		case cur == nil || (!inOut && cur.cmd == ""):
			if cur == nil {
				cur = &block{}
			}
			if strings.HasPrefix(l, "#") {
				cur.comments = append(cur.comments, l)
			} else {
				cur.cmd, cur.line = l, ln
			}
		case !inOut && l == "----":
			inOut = true
		case inOut:
			cur.want += l + "\n"
		default:
			t.Fatalf("%s:%d: want \"----\" after command %q, got %q", path, ln, cur.cmd, l)
		}
	}
	if cur != nil && cur.cmd != "" {
		bs = append(bs, *cur)
	}
	if len(bs) == 0 || len(bs[0].comments) == 0 {
		t.Fatalf("%s: must open with a comment saying what it proves", path)
	}
	return bs
}

func runScript(t *testing.T, path string) {
	bs := parseScript(t, path)
	r := &runner{t: t}
	var out strings.Builder
	failed := false
	for i, b := range bs {
		got := r.exec(b.cmd)
		if got == "" {
			got = "ok\n"
		}
		bs[i].want, got = strings.TrimRight(b.want, "\n")+"\n", strings.TrimRight(got, "\n")+"\n"
		if !*update && got != bs[i].want {
			t.Errorf("%s:%d: %s\n got:\n%s want:\n%s", path, b.line, b.cmd, got, bs[i].want)
			failed = true
		}
		for _, c := range b.comments {
			out.WriteString(c + "\n")
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n", b.cmd, got)
	}
	if *update && !failed {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type runner struct {
	t     *testing.T
	c     *sim.Cluster
	out   strings.Builder
	sends bool
}

func (r *runner) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf(format, args...)
}

func (r *runner) observe(at time.Time, node string, a ha.Action) {
	ts := fmt.Sprintf("%5dms %s", r.c.Elapsed().Milliseconds(), node)
	switch a.Kind {
	case ha.ActionArmTimer:
		return
	case ha.ActionSend:
		if r.sends {
			fmt.Fprintf(&r.out, "%s send %s\n", ts, a.Msg)
		}
		return
	case ha.ActionStart, ha.ActionStop:
		fmt.Fprintf(&r.out, "%s %s %s\n", ts, a.Kind, a.Group) // the notify line above says why
		return
	}
	fmt.Fprintf(&r.out, "%s %s\n", ts, a)
}

func (r *runner) exec(cmd string) string {
	r.out.Reset()
	f := strings.Fields(cmd)
	args := f[1:]
	if f[0] != "cluster" && r.c == nil {
		r.fatalf("%q before cluster", cmd)
	}
	switch f[0] {
	case "cluster":
		r.cluster(args)
	case "start", "restart":
		for _, n := range args {
			if err := r.c.Boot(n); err != nil {
				r.fatalf("%s: %v", cmd, err)
			}
		}
	case "kill":
		for _, n := range args {
			r.c.Kill(n)
		}
	case "stop":
		for _, n := range args {
			r.c.Leave(n)
		}
	case "tick":
		r.c.Run(r.duration(args[0]))
	case "partition":
		r.c.Partition(args[0], args[1])
	case "cut":
		r.c.Cut(args[0], args[1])
	case "cut-link":
		l, err := strconv.Atoi(args[0])
		if err != nil {
			r.fatalf("%s: bad link %q", cmd, args[0])
		}
		r.c.CutLink(l, args[1], args[2])
	case "isolate":
		r.c.Isolate(args[0])
	case "heal":
		r.c.Heal()
	case "sends":
		r.sends = args[0] == "on"
	case "cmd":
		r.command(args)
	case "check":
		reason := strings.Join(args[3:], " ")
		r.c.Inject(args[0], ha.Event{Kind: ha.EventCheck, Check: args[1], OK: args[2] == "ok", Reason: reason})
	case "fail":
		r.c.Inject(args[0], ha.Event{Kind: ha.EventFailed, Group: args[1], Reason: strings.Join(args[2:], " ")})
	case "ready":
		// ready NODE GROUP HEALTHY synced | ready NODE GROUP HEALTHY behind WHY...
		n, err := strconv.Atoi(args[2])
		if err != nil || len(args) < 4 {
			r.fatalf("%s: want ready NODE GROUP HEALTHY synced|behind WHY", cmd)
		}
		r.c.Inject(args[0], ha.Event{Kind: ha.EventReadiness, Group: args[1], Healthy: n, OK: args[3] == "synced", Reason: strings.Join(args[4:], " ")})
	case "fail-start":
		r.c.FailNextStart(args[0], args[1], strings.Join(args[2:], " "))
	case "status":
		r.status()
	default:
		r.fatalf("unknown command %q", cmd)
	}
	return r.out.String()
}

func (r *runner) duration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		r.fatalf("bad duration %q: %v", s, err)
	}
	return d
}

func (r *runner) command(args []string) {
	node, verb := args[0], args[1]
	group := ""
	if len(args) > 2 {
		group = args[2]
	}
	switch verb {
	case "takeover":
		r.c.Inject(node, ha.Event{Kind: ha.EventTakeover, Group: group})
	case "standby":
		r.c.Inject(node, ha.Event{Kind: ha.EventStandby, Group: group})
	case "maintenance":
		r.c.Inject(node, ha.Event{Kind: ha.EventMaintenance, On: group == "on"})
	default:
		r.fatalf("unknown cmd verb %q", verb)
	}
}

// cluster lb1 lb2 [key=value...]: groups=web,db preferred=lb1 | preferred=web:lb1,db:lb2
// prio=lb1:150,lb2:150 keepalive= warntime= deadtime= initdead= failback=true hold= backoff=
// group-failback=web:false (per-group override) checks=track1:50 (track checks)
// pings=gw:50 (ping nodes) delay=1ms resdelay=10ms
// gate=web,db (FailbackGate) min=web:2 (FailbackMinHealthy)
// mbb=web,db (MakeBeforeBreak)
func (r *runner) cluster(args []string) {
	cfg := ha.Config{Keepalive: 100 * time.Millisecond, Warntime: 250 * time.Millisecond,
		Deadtime: 400 * time.Millisecond, Initdead: time.Second}
	opts := sim.Options{DelayMin: time.Millisecond, DelayMax: time.Millisecond,
		StartDelay: 10 * time.Millisecond, StopDelay: 10 * time.Millisecond}
	groups := []string{"web"}
	preferred := map[string]string{}
	prios := map[string]uint8{}
	failback := map[string]bool{}
	gated := map[string]bool{}
	mbb := map[string]bool{}
	minHealthy := map[string]int{}
	durations := map[string]*time.Duration{"keepalive": &cfg.Keepalive, "warntime": &cfg.Warntime, "deadtime": &cfg.Deadtime,
		"initdead": &cfg.Initdead, "hold": &cfg.FailbackHold, "backoff": &cfg.FailBackoff}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			cfg.Nodes = append(cfg.Nodes, a)
			continue
		}
		switch k {
		case "links":
			n, err := strconv.Atoi(v)
			if err != nil {
				r.fatalf("bad links %q", v)
			}
			opts.Links = n
		case "groups":
			groups = strings.Split(v, ",")
		case "preferred":
			for _, p := range strings.Split(v, ",") {
				if g, n, ok := strings.Cut(p, ":"); ok {
					preferred[g] = n
				} else {
					preferred[""] = p
				}
			}
		case "prio":
			r.namedInts(k, v, func(n string, x int) { prios[n] = uint8(x) })
		case "checks", "pings":
			r.namedInts(k, v, func(n string, x int) {
				cfg.Checks = append(cfg.Checks, ha.CheckConfig{Name: n, Weight: uint8(x), Ping: k == "pings"})
			})
		case "group-failback":
			for _, p := range strings.Split(v, ",") {
				g, b, _ := strings.Cut(p, ":")
				failback[g] = b == "true"
			}
		case "gate":
			for _, g := range strings.Split(v, ",") {
				gated[g] = true
			}
		case "mbb":
			for _, g := range strings.Split(v, ",") {
				mbb[g] = true
			}
		case "min":
			r.namedInts(k, v, func(g string, x int) { minHealthy[g] = x })
		case "keepalive", "warntime", "deadtime", "initdead", "hold", "backoff":
			*durations[k] = r.duration(v)
		case "failback":
			cfg.AutoFailback = v == "true"
		case "delay":
			opts.DelayMin, opts.DelayMax = r.duration(v), r.duration(v)
		case "resdelay":
			opts.StartDelay, opts.StopDelay = r.duration(v), r.duration(v)
		default:
			r.fatalf("unknown cluster option %q", a)
		}
	}
	for _, g := range groups {
		gc := ha.GroupConfig{Name: g, Preferred: preferred[""], FailbackGate: gated[g], FailbackMinHealthy: minHealthy[g], MakeBeforeBreak: mbb[g]}
		if p, ok := preferred[g]; ok {
			gc.Preferred = p
		}
		if len(prios) > 0 {
			gc.Priorities = prios
		}
		if b, ok := failback[g]; ok {
			gc.AutoFailback = &b
		}
		cfg.Groups = append(cfg.Groups, gc)
	}
	opts.Config = cfg
	r.c = sim.New(opts)
	r.c.Observe = r.observe
	if _, err := ha.New(ha.Config{Self: cfg.Nodes[0], Nodes: cfg.Nodes, Keepalive: cfg.Keepalive, Warntime: cfg.Warntime,
		Deadtime: cfg.Deadtime, Initdead: cfg.Initdead, Groups: cfg.Groups, Checks: cfg.Checks}); err != nil {
		r.fatalf("cluster: %v", err)
	}
}

// namedInts parses option key's value "name:N,name:N" and calls set for
// each pair in order.
func (r *runner) namedInts(key, v string, set func(name string, n int)) {
	for _, p := range strings.Split(v, ",") {
		name, num, _ := strings.Cut(p, ":")
		x, err := strconv.Atoi(num)
		if err != nil {
			r.fatalf("bad %s %q", key, p)
		}
		set(name, x)
	}
}

// status prints every up node's view: per group state, owner, priority, reason.
func (r *runner) status() {
	for _, name := range r.c.Names() {
		n := r.c.Node(name)
		if !n.Up {
			fmt.Fprintf(&r.out, "%s: down\n", name)
			continue
		}
		st := n.M.Status()
		flags := ""
		if st.Maintenance {
			flags += " maintenance"
		}
		if st.Initdead {
			flags += " initdead"
		}
		if st.Isolated != "" {
			flags += " isolated"
		}
		fmt.Fprintf(&r.out, "%s: gen=%d%s\n", name, st.Generation, flags)
		for _, g := range st.Groups {
			owner := g.Owner
			if owner == "" {
				owner = "-"
			}
			fmt.Fprintf(&r.out, "  %s %s owner=%s prio=%d reason=%q", g.Name, g.State, owner, g.Priority, g.Reason)
			if g.Waiting != "" {
				fmt.Fprintf(&r.out, " waiting=%q", g.Waiting)
			}
			r.out.WriteString("\n")
		}
		var peers []string
		for _, p := range st.Peers {
			s := "dead"
			if p.Alive {
				s = "alive"
			}
			s = fmt.Sprintf("%s=%s/gen%d", p.Name, s, p.Generation)
			if p.Deaf != "" {
				s += fmt.Sprintf(" (deaf: %s)", p.Deaf)
			}
			peers = append(peers, s)
		}
		slices.Sort(peers)
		fmt.Fprintf(&r.out, "  peers %s\n", strings.Join(peers, " "))
	}
}
