package chaos

import (
	"fmt"
	"strings"
	"time"

	"github.com/hapair/hapair/test/lab/probe"
)

// clientOutages sorts a client probe's outages of the service (the
// prober's own stalls left out, probe.ServiceOutages) by what explains
// them: a host stall the canary saw, or the control probes (each backend
// straight, past had) failing at the same time. The rest are hapair's.
// Every scenario that reports a client outage uses it, so that a prober or
// a host that was not run is never counted as an outage of hapair.
type clientOutages struct {
	outs        []probe.Outage
	why         []string      // per outage: "host stall", "backends too" or ""
	longest     time.Duration // of the service
	unexplained time.Duration // of the service, with the backends and the host fine
	failed      int           // failed attempts in outages of the service
	failedHere  int           // of them, in outages nothing explains
	control     []time.Duration
	ctlOuts     [][]probe.Outage
}

// classifyOutages classifies res's outages of the service against the
// controls' (none: no outage is the backends') and the canary's gaps.
func classifyOutages(res *probe.Result, controls []*probe.Result, gaps [][2]time.Time) clientOutages {
	so := clientOutages{outs: probe.ServiceOutages(res.Attempts)}
	ctl := make([][][2]time.Time, len(controls))
	for i, c := range controls {
		outs := probe.ServiceOutages(c.Attempts)
		so.ctlOuts, so.control = append(so.ctlOuts, outs), append(so.control, 0)
		for _, o := range outs {
			ctl[i] = append(ctl[i], [2]time.Time{o.Start, o.End})
			so.control[i] = max(so.control[i], o.Length)
		}
	}
	for _, o := range so.outs {
		// The balancer spreads consecutive attempts over the backends
		// (rr): one failure is explained by the backend it went to
		// failing, a longer run only by every backend failing.
		down := 0
		for i := range ctl {
			if overlaps(ctl[i], o.Start, o.End, 0) {
				down++
			}
		}
		why := ""
		switch {
		case overlaps(gaps, o.Start, o.End, probeTimeout):
			why = "host stall"
		case len(ctl) > 0 && (down == len(ctl) || (down > 0 && o.Failed == 1)):
			why = "backends too"
		}
		so.why = append(so.why, why)
		so.longest = max(so.longest, o.Length)
		so.failed += o.Failed
		if why == "" {
			so.unexplained = max(so.unexplained, o.Length)
			so.failedHere += o.Failed
		}
	}
	return so
}

// probeFigure is the table's value for a client probe without controls:
// failures, those the prober's stall decided, and the longest outage as
// measured, of the service, and of the service with the host fine.
func (so clientOutages) probeFigure(res *probe.Result) string {
	return fmt.Sprintf("%d of %d, %d while the prober stalled (%v; %v; %v)", res.Failed, res.Sent, res.Stalled,
		res.Longest.Round(time.Millisecond), so.longest.Round(time.Millisecond), so.unexplained.Round(time.Millisecond))
}

// probeFigureName names probeFigure's value in the table.
const probeFigureName = "client probe failures (longest outage as measured; of the service; of the service with the host fine)"

// maxTraceLines bounds the probe trace of a 10-minute soak.
const maxTraceLines = 2000

// trace is the probe file written beside the table: the summaries, every
// outage of the service (its first error, what explains it), the control's
// outages, the failed attempts the prober's stall decided, and the
// canary's gaps.
func (so clientOutages) trace(res *probe.Result, controls []*probe.Result, gaps [][2]time.Time) string {
	var b strings.Builder
	lines := 0
	line := func(format string, args ...any) {
		if lines++; lines <= maxTraceLines {
			fmt.Fprintf(&b, format+"\n", args...)
		}
	}
	line("VIP: %s", res.Summary())
	for _, c := range controls {
		line("control: %s", c.Summary())
	}
	for i, o := range so.outs {
		line("service outage %s +%v (%d failed; first: %s) explained by: %q", o.Start.UTC().Format(stamp), o.Length.Round(time.Millisecond), o.Failed, firstErr(res, o), so.why[i])
	}
	for i, c := range controls {
		for _, o := range so.ctlOuts[i] {
			line("control outage %s %s +%v (%d failed; first: %s)", c.Target, o.Start.UTC().Format(stamp), o.Length.Round(time.Millisecond), o.Failed, firstErr(c, o))
		}
	}
	for _, r := range append([]*probe.Result{res}, controls...) {
		for _, a := range r.Attempts {
			if a.Stalled {
				line("prober stalled (%s): attempt %d at %s took %v: %s", r.Target, a.Seq, a.Start.UTC().Format(stamp), a.Took.Round(time.Millisecond), a.Err)
			}
		}
	}
	for _, g := range gaps {
		line("host stall (test process not run) %s +%v", g[0].UTC().Format(stamp), g[1].Sub(g[0]).Round(time.Millisecond))
	}
	if lines > maxTraceLines {
		fmt.Fprintf(&b, "(%d more lines left out)\n", lines-maxTraceLines)
	}
	return b.String()
}

// stallTrace is one line per canary gap, for the raw logs.
func stallTrace(gaps [][2]time.Time) string {
	var b strings.Builder
	for _, g := range gaps {
		fmt.Fprintf(&b, "host stall (test process not run) %s +%v\n", g[0].UTC().Format(stamp), g[1].Sub(g[0]).Round(time.Millisecond))
	}
	return b.String()
}

// firstErr is the error and duration of o's first failed attempt.
func firstErr(r *probe.Result, o probe.Outage) string {
	for _, a := range r.Attempts {
		if !a.OK && !a.Stalled && a.Start.Equal(o.Start) {
			return fmt.Sprintf("took %v: %s", a.Took.Round(time.Millisecond), a.Err)
		}
	}
	return "?"
}

const stamp = "15:04:05.000"
