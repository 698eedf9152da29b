package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/node"
)

// How long a verb waits for had's answer by default (--timeout changes
// it). A live had answers a query at once, so a few seconds tell a wedged
// daemon (its socket accepts, nothing answers) from a busy one. A verb
// that waits for resources to stop and start (takeover, standby, reload)
// gets had's own bound on one exchange, ctl.RequestTimeout, and a
// little more for the answer to arrive.
const (
	queryTimeout = 5 * time.Second
	waitTimeout  = ctl.RequestTimeout + 5*time.Second
)

// target is the had a verb talks to: its socket, and how long to wait.
type target struct {
	socket  string
	timeout time.Duration
	// verb names the command in errors when it is not the request's verb:
	// `standby --drain` asks had with VerbDrain, but the user typed
	// standby.
	verb string
}

// socketFlags adds the flags every daemon verb takes to find had: -s names
// the socket, -c a config file whose cluster.socket to use. The returned
// func resolves them after parsing.
func socketFlags(fs *flag.FlagSet) func() (string, error) {
	def := os.Getenv("HAPAIR_SOCKET")
	if def == "" {
		def = ctl.DefaultSocket
	}
	socket := fs.String("s", def, "control `socket` of had (env HAPAIR_SOCKET)")
	cfgPath := fs.String("c", "", "take the socket from this config `file`'s cluster.socket")
	return func() (string, error) {
		if *cfgPath == "" {
			return *socket, nil
		}
		cfg, err := node.LoadConfig(*cfgPath)
		if err != nil {
			return "", err
		}
		return cfg.Cluster.Socket, nil
	}
}

// daemonFlags is the flag set of a verb that talks to had: -s and -c find
// the socket (socketFlags); a verb adds its own flags before parse.
type daemonFlags struct {
	*flag.FlagSet
	resolve func() (string, error)
	timeout *time.Duration
	stderr  io.Writer
}

// newDaemonFlags makes the flag set of verb name, whose --timeout defaults
// to wait (queryTimeout or waitTimeout).
func newDaemonFlags(name, usage string, wait time.Duration, stderr io.Writer) *daemonFlags {
	fs := newFlags(name, stderr, usage)
	d := &daemonFlags{FlagSet: fs, resolve: socketFlags(fs), stderr: stderr}
	d.timeout = fs.Duration("timeout", wait, "how long to wait for had's answer")
	return d
}

// parse parses args, allowing at most maxArgs positional ones, and
// resolves the socket, reporting problems on stderr. ok is false when the
// verb should exit with exitUsage. Flags may come after the positional
// arguments (`hactl takeover web -s SOCKET`), as every verb allows; "--"
// ends the flags.
func (d *daemonFlags) parse(args []string, maxArgs int) (had target, ok bool) {
	var pos []string
	for {
		if err := d.Parse(args); err != nil {
			return target{}, false
		}
		rest := d.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	// Leave the positional arguments where Arg and NArg find them.
	if err := d.Parse(append([]string{"--"}, pos...)); err != nil {
		return target{}, false
	}
	if d.NArg() > maxArgs {
		fmt.Fprintf(d.stderr, "hactl: %s: unexpected argument %q\n", d.Name(), d.Arg(maxArgs))
		d.Usage()
		return target{}, false
	}
	if *d.timeout <= 0 {
		fmt.Fprintf(d.stderr, "hactl: %s: --timeout %v: want a positive duration\n", d.Name(), *d.timeout)
		return target{}, false
	}
	socket, err := d.resolve()
	if err != nil {
		fmt.Fprintf(d.stderr, "hactl: %s: %v\n", d.Name(), err)
		return target{}, false
	}
	return target{socket: socket, timeout: *d.timeout}, true
}

// call sends req and reports failures on stderr the way every verb should:
// one line, exit 2 when had is unreachable or does not answer in time, 1
// when had refused.
func call(stderr io.Writer, had target, req ctl.Request, out any) int {
	ctx, cancel := context.WithTimeout(context.Background(), had.timeout)
	defer cancel()
	err := ctl.Call(ctx, had.socket, req, out)
	if err == nil {
		return exitOK
	}
	verb := cmp.Or(had.verb, req.Verb)
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "hactl: %s: had at %s did not answer within %v: it may be wedged (see its log: journalctl -u had) or busy; --timeout waits longer\n", verb, had.socket, had.timeout)
		return exitUsage
	}
	if re := (*ctl.RemoteError)(nil); errors.As(err, &re) && re.Verb != verb {
		err = &ctl.RemoteError{Verb: verb, Msg: re.Msg}
	}
	fmt.Fprintf(stderr, "hactl: %v\n", err)
	var ue *ctl.UnreachableError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFail
}

// callPrint sends req and prints had's one-line answer.
func callPrint(stdout, stderr io.Writer, had target, req ctl.Request) int {
	var msg string
	if code := call(stderr, had, req, &msg); code != exitOK {
		return code
	}
	fmt.Fprintln(stdout, msg)
	return exitOK
}

// printAs writes doc as indented JSON when format is "json" and calls text
// otherwise ("text": query refused any other format before asking had).
func printAs(stdout io.Writer, format string, doc any, text func()) int {
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(doc)
		return exitOK
	}
	text()
	return exitOK
}

func newFlags(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hactl %s\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// query runs a read-only verb that takes -o and no arguments (status,
// services): it parses args, asks had for verb into out and returns the
// output format asked for, or the exit code when the verb is over.
func query(verb string, args []string, stderr io.Writer, out any) (format string, code int) {
	fs := newDaemonFlags(verb, verb+" [-o json] [-s SOCKET | -c CONFIG]", queryTimeout, stderr)
	output := fs.String("o", "text", "output `format`: text or json")
	had, ok := fs.parse(args, 0)
	if !ok {
		return "", exitUsage
	}
	// The command line is checked whole before had is asked: a bad -o is
	// the mistake to report, also when had is down.
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "hactl: %s: unknown output format %q, want text or json\n", verb, *output)
		return "", exitUsage
	}
	return *output, call(stderr, had, ctl.Request{Verb: verb}, out)
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	var st ctl.Status
	format, code := query(ctl.VerbStatus, args, stderr, &st)
	if code != exitOK {
		return code
	}
	return printAs(stdout, format, &st, func() { printStatus(stdout, &st, time.Now()) })
}

func printStatus(w io.Writer, st *ctl.Status, now time.Time) {
	mode := ""
	if st.Maintenance {
		mode = "  MAINTENANCE (frozen: not reacting to peers or checks)"
	}
	fmt.Fprintf(w, "node %s  cluster %s (id %d)  generation %d%s\n", st.Node, st.Cluster, st.ClusterID, st.Generation, mode)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nGROUP\tOWNER\tSTATE\tPRIORITY\tPREFERENCE\tSINCE\tREASON")
	for _, g := range st.Groups {
		owner := g.Owner
		if owner == "" {
			owner = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", g.Name, owner, g.State, g.Priority, preference(&g), ago(now, g.Since), g.Reason)
	}
	tw.Flush()

	fmt.Fprintln(tw, "\nPEER\tALIVE\tLAST HEARD\tGENERATION\tLINKS")
	for _, p := range st.Peers {
		alive := "no"
		if p.Alive {
			alive = "yes"
		}
		if p.Leaving {
			alive += " (leaving)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Name, alive, ago(now, p.LastHeard), p.Generation, linkHealth(p.Links))
	}
	tw.Flush()
	for _, p := range st.Peers {
		if p.OneWay != "" {
			fmt.Fprintf(w, "ONE-WAY LOSS: %s (we hear it; holding nothing it can take)\n", p.OneWay)
		}
		if p.Rejected != "" {
			fmt.Fprintf(w, "REJECTED %s: heard only through heartbeats dropped as %s (it counts as dead: both nodes may hold the groups)\n", p.Name, p.Rejected)
		}
		if p.Dropping != "" {
			fmt.Fprintf(w, "dropping %s: %s (replays; if its state directory was lost: hactl peer reset %s)\n", p.Name, p.Dropping, p.Name)
		}
	}

	// Every link carries every packet, so copies already heard on another
	// link are normal: they get their own column, not the drop list.
	fmt.Fprintln(tw, "\nLINK\tKIND\tSENT\tRECEIVED\tSEEN ON OTHER LINK\tDROPPED")
	for _, l := range st.Links {
		rest := map[string]uint64{}
		for k, v := range l.Drops {
			if k != "duplicate" {
				rest[k] = v
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", l.Name, l.Kind, l.Sent, l.Received, l.Drops["duplicate"], drops(rest))
	}
	tw.Flush()

	if b := st.Balancer; b != nil {
		fmt.Fprintf(w, "\nbalancer: %s (%d active here), reals %d/%d up\n", plural(b.Services, "service"), b.Active, b.RealsUp, b.RealsTotal)
	}
	if sy := st.Sync; sy != nil {
		printSync(w, tw, sy, now)
	}
}

// printSync shows the persistence sync: its links (heartbeat ports + 1),
// whether each side holds the other's table, and its totals.
func printSync(w io.Writer, tw *tabwriter.Writer, sy *ctl.Sync, now time.Time) {
	fmt.Fprintf(w, "\npersistence sync: %d entries here, %d sent, %d received, %d full resyncs sent, %d messages (%d bytes)",
		sy.Entries, sy.EntriesSent, sy.EntriesReceived, sy.ResyncsSent, sy.Messages, sy.PayloadBytes)
	if sy.Malformed > 0 {
		fmt.Fprintf(w, ", %d malformed", sy.Malformed)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "SYNC PEER\tLAST HEARD\tHAS OUR TABLE\tWE HAVE ITS TABLE\tLOST")
	for _, p := range sy.Peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", p.Name, ago(now, p.LastHeard), yesNo(p.HaveOurs), yesNo(p.HaveTheirs), p.Lost)
	}
	tw.Flush()
	fmt.Fprintln(tw, "\nSYNC LINK\tKIND\tSENT\tRECEIVED\tDROPPED")
	for _, l := range sy.Links {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", l.Name, l.Kind, l.Sent, l.Received, drops(l.Drops))
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Millisecond).String() + " ago"
}

func linkHealth(links map[string]bool) string {
	return joinSorted(links, "-", func(name string, up bool) string {
		if up {
			return name + ":up"
		}
		return name + ":down"
	})
}

func drops(m map[string]uint64) string {
	return joinSorted(m, "0", func(reason string, n uint64) string { return fmt.Sprintf("%s=%d", reason, n) })
}

// joinSorted formats every entry of m in key order, space-separated, or
// returns empty when m has none.
func joinSorted[V any](m map[string]V, empty string, format func(string, V) string) string {
	if len(m) == 0 {
		return empty
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, format(k, m[k]))
	}
	return strings.Join(parts, " ")
}

// cmdIsMaster answers like LVSSyncDaemonSwap's status: "master running"
// with exit 0 when this node holds the group (every group when none is
// named), "master stopped" with exit 1 when not, exit 2 when it cannot tell.
func cmdIsMaster(args []string, stdout, stderr io.Writer) int {
	fs := newDaemonFlags("is-master", "is-master [-s SOCKET | -c CONFIG] [GROUP]", queryTimeout, stderr)
	had, ok := fs.parse(args, 1)
	if !ok {
		return exitUsage
	}
	group := fs.Arg(0)
	var st ctl.Status
	if code := call(stderr, had, ctl.Request{Verb: ctl.VerbStatus}, &st); code != exitOK {
		return exitUsage
	}
	master, found := st.Master(group)
	if !found {
		if group == "" {
			fmt.Fprintln(stderr, "hactl: is-master: no groups are configured")
		} else {
			fmt.Fprintf(stderr, "hactl: is-master: group %q is not configured\n", group)
		}
		return exitUsage
	}
	if master {
		fmt.Fprintln(stdout, "master running")
		return exitOK
	}
	fmt.Fprintln(stdout, "master stopped")
	return exitFail
}

// moveVerb builds takeover and standby: both name an optional group.
func moveVerb(verb string) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs := newDaemonFlags(verb, verb+" [-s SOCKET | -c CONFIG] [GROUP]", waitTimeout, stderr)
		had, ok := fs.parse(args, 1)
		if !ok {
			return exitUsage
		}
		return callPrint(stdout, stderr, had, ctl.Request{Verb: verb, Group: fs.Arg(0)})
	}
}

func cmdMaintenance(args []string, stdout, stderr io.Writer) int {
	fs := newDaemonFlags("maintenance", "maintenance [-s SOCKET | -c CONFIG] on|off", queryTimeout, stderr)
	had, ok := fs.parse(args, 1)
	if !ok {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	var on bool
	switch fs.Arg(0) {
	case "on":
		on = true
	case "off":
	default:
		fmt.Fprintf(stderr, "hactl: maintenance: %q is not on or off\n", fs.Arg(0))
		return exitUsage
	}
	return callPrint(stdout, stderr, had, ctl.Request{Verb: ctl.VerbMaintenance, On: on})
}

func cmdReload(args []string, stdout, stderr io.Writer) int {
	fs := newDaemonFlags("reload", "reload [-s SOCKET | -c CONFIG] [--dry-run]", waitTimeout, stderr)
	dry := fs.Bool("dry-run", false, "print what a reload would change, change nothing")
	had, ok := fs.parse(args, 0)
	if !ok {
		return exitUsage
	}
	var lines []string
	if code := call(stderr, had, ctl.Request{Verb: ctl.VerbReload, DryRun: *dry}, &lines); code != exitOK {
		return code
	}
	if len(lines) == 0 {
		fmt.Fprintln(stdout, "no changes")
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return exitOK
}

// servicesResult is had's answer to VerbServices: the balancer table
// rendered like `ipvsadm -Ln` and the same data for scripts.
type servicesResult struct {
	Version  int             `json:"version"`
	Text     string          `json:"text"`
	Services json.RawMessage `json:"services"`
}

func cmdServices(args []string, stdout, stderr io.Writer) int {
	var res servicesResult
	format, code := query(ctl.VerbServices, args, stderr, &res)
	if code != exitOK {
		return code
	}
	// The JSON is the document /api/v1/services serves too: one schema, versioned.
	doc := ctl.Services{Version: res.Version, Services: res.Services}
	return printAs(stdout, format, doc, func() { io.WriteString(stdout, res.Text) })
}

// cmdReal drains or restores one real on this node: `hactl real disable
// http 198.18.0.21:80` or `... http backend1:80` (as the config writes
// it). had's reply says the drain is this node's only and gives the
// command for the peer.
func cmdReal(args []string, stdout, stderr io.Writer) int {
	fs := newDaemonFlags("real", "real [-s SOCKET | -c CONFIG] disable|enable SERVICE REAL", queryTimeout, stderr)
	had, ok := fs.parse(args, 3)
	if !ok {
		return exitUsage
	}
	if fs.NArg() != 3 || (fs.Arg(0) != "disable" && fs.Arg(0) != "enable") {
		fs.Usage()
		return exitUsage
	}
	// A port no real can have is bad input, refused here rather than
	// after asking had (a REAL without a port is an address or host).
	if _, p, err := net.SplitHostPort(fs.Arg(2)); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			fmt.Fprintf(stderr, "hactl: real: %s: port %q is not a port number (1..65535)\n", fs.Arg(2), p)
			return exitUsage
		}
	}
	return callPrint(stdout, stderr, had, ctl.Request{Verb: ctl.VerbReal, Action: fs.Arg(0), Service: fs.Arg(1), Real: fs.Arg(2)})
}

// cmdPeer is `hactl peer reset PEER`: the operator's decision to accept a
// peer whose generation went back (its state directory was lost).
func cmdPeer(args []string, stdout, stderr io.Writer) int {
	fs := newDaemonFlags("peer", "peer [-s SOCKET | -c CONFIG] reset PEER", queryTimeout, stderr)
	had, ok := fs.parse(args, 2)
	if !ok {
		return exitUsage
	}
	if fs.NArg() != 2 || fs.Arg(0) != "reset" {
		fs.Usage()
		return exitUsage
	}
	return callPrint(stdout, stderr, had, ctl.Request{Verb: ctl.VerbPeer, Action: "reset", Peer: fs.Arg(1)})
}

// preference shows a group's nodes with their base priorities, best
// first ("lb1=200>lb2=199>lb3=100"), or the preferred node alone when the
// daemon did not send them.
func preference(g *ctl.GroupStatus) string {
	if len(g.Priorities) == 0 {
		return g.Preferred
	}
	parts := make([]string, len(g.Priorities))
	for i, p := range g.Priorities {
		parts[i] = fmt.Sprintf("%s=%d", p.Node, p.Priority)
	}
	return strings.Join(parts, ">")
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
