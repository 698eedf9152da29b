package bgp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultSessionWait bounds how long a Resource's Start waits for its
// health gate and then for every neighbour's session to be established:
// a node that just started checks its reals within a check interval; BIRD
// connects 1 s after its start (connect delay time 1) and a router that
// dropped the session waits out its error wait (BIRD: 1 s after a first
// error) before it accepts a new one.
const DefaultSessionWait = 5 * time.Second

// sessionPoll is how often the wait asks BIRD for its sessions' states.
const sessionPoll = 50 * time.Millisecond

// waitEstablished waits until every neighbour's BGP session is
// Established and has exported every enabled route, polling BIRD (`show
// protocols all`), for at most limit. BIRD sends a route as it exports
// it, so once this returns nil the routers have been sent the
// announcement: a group moved make-before-break
// (ha.GroupConfig.MakeBeforeBreak) reports itself held only then, and its
// old owner withdraws only after. (Established alone is not enough: BIRD
// feeds a new session its routes tens of ms later, after the old owner had
// withdrawn, in the e2e lab.) It returns an error naming the sessions
// without every route when limit passes or ctx ends.
func (s *Speaker) waitEstablished(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	end, _ := ctx.Deadline() // the caller's, when sooner
	t := time.NewTicker(sessionPoll)
	defer t.Stop()
	var why error // what the last answer (or failed question) said
	for {
		out, err := birdc(ctx, s.socket(), "show protocols all", commandTimeout)
		switch {
		case err == nil:
			down := notExported(out, len(s.opts.Neighbors), s.enabledRoutes())
			if len(down) == 0 {
				return nil
			}
			why = fmt.Errorf("without every route: %s", strings.Join(down, "; "))
		case why == nil || time.Now().Before(end):
			// A question cut short by the end of the wait keeps the last
			// answer: it says more than "i/o timeout".
			why = fmt.Errorf("not known: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bgp: BGP sessions %w", why)
		case <-t.C:
		}
	}
}

// noteEnabled records that static protocol proto, holding routes
// routes, was enabled (on) or disabled.
func (s *Speaker) noteEnabled(proto string, on bool, routes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.enabled[proto] = routes
	} else {
		delete(s.enabled, proto)
	}
}

// enabledRoutes is how many routes the enabled static protocols hold.
func (s *Speaker) enabledRoutes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.enabled {
		n += r
	}
	return n
}

// session is one BGP session in BIRD's `show protocols all`.
type session struct {
	state    string // "Established", or the state and info
	exported int    // routes exported over its channels
}

// sessions reads BIRD 2's `show protocols all` (per protocol a table line
// "name proto table state since info", then its details, with a
// "Routes: I imported, E exported, P preferred" line per channel) into
// its BGP sessions by name. BIRD feeds an established session its routes
// in the moments after it comes up, sends each as it is exported, and
// sends a withdraw as the export count drops.
func sessions(text string) map[string]*session {
	out := map[string]*session{}
	var cur *session
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 4 && f[1] == "BGP" && !strings.HasPrefix(line, " "):
			cur = &session{state: strings.Join(append([]string{f[3]}, f[min(5, len(f)):]...), " ")}
			out[f[0]] = cur
		case len(f) >= 4 && !strings.HasPrefix(line, " ") && f[0] != "Name":
			cur = nil // another protocol's block
		case cur != nil && len(f) >= 5 && f[0] == "Routes:" && f[4] == "exported,":
			if e, err := strconv.Atoi(f[3]); err == nil {
				cur.exported += e
			}
		}
	}
	return out
}

// established reports whether the session is in state Established.
func (st *session) established() bool { return strings.Contains(st.state, "Established") }

// neighbours returns, for each of the n neighbour sessions (peerName) in
// BIRD's `show protocols all` text, "name: " and what judge says of it
// (st nil: not in the text), in order; sessions judged "" are left out.
func neighbours(text string, n int, judge func(st *session) string) []string {
	ss := sessions(text)
	var out []string
	for i := range n {
		name := peerName(i)
		if why := judge(ss[name]); why != "" {
			out = append(out, name+": "+why)
		}
	}
	return out
}

// notExported returns, for each of the n neighbour sessions that is not
// Established or has exported fewer than want routes, "name: state info"
// or "name: E of want routes exported" (a missing session too).
func notExported(text string, n, want int) []string {
	return neighbours(text, n, func(st *session) string {
		switch {
		case st == nil:
			return "not in BIRD's protocols"
		case !st.established():
			return st.state
		case st.exported < want:
			return fmt.Sprintf("%d of %d routes exported", st.exported, want)
		}
		return ""
	})
}

// notWithdrawn returns, for each of the n neighbour sessions that is
// Established and still exports more than want routes, "name: E routes
// exported, want W". A session that is not Established has no routes at
// its router (a router drops the routes learned over a session when it
// closes, RFC 4271).
func notWithdrawn(text string, n, want int) []string {
	return neighbours(text, n, func(st *session) string {
		if st != nil && st.established() && st.exported > want {
			return fmt.Sprintf("%d routes exported, want %d", st.exported, want)
		}
		return ""
	})
}

// waitWithdrawn waits until no Established session exports more routes
// than the enabled static protocols hold (the withdraw of a disabled
// one's routes has been sent), polling BIRD, until ctx ends; it returns
// an error naming the sessions still exporting them, or why BIRD could
// not be asked.
func (s *Speaker) waitWithdrawn(ctx context.Context) error {
	t := time.NewTicker(withdrawPoll)
	defer t.Stop()
	var why error
	for {
		out, err := birdc(ctx, s.socket(), "show protocols all", commandTimeout)
		if err == nil {
			up := notWithdrawn(out, len(s.opts.Neighbors), s.enabledRoutes())
			if len(up) == 0 {
				return nil
			}
			why = fmt.Errorf("still exported: %s", strings.Join(up, "; "))
		} else if why == nil {
			why = fmt.Errorf("not known: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bgp: withdraw %w", why)
		case <-t.C:
		}
	}
}

// withdrawPoll is how often waitWithdrawn asks BIRD: a withdraw goes out
// within ms of the disable.
const withdrawPoll = 10 * time.Millisecond
