package bgp

import (
	"context"
	"fmt"
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
// Established, polling BIRD (`show protocols`), for at most limit. An
// enabled route goes out on an established session at once, so once this
// returns nil the routers have been sent the announcement: a group moved
// make-before-break (ha.GroupConfig.MakeBeforeBreak) reports itself held
// only then, and its old owner withdraws only after. It returns an error
// naming the sessions not established when limit passes or ctx ends.
func (s *Speaker) waitEstablished(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	end, _ := ctx.Deadline() // the caller's, when sooner
	t := time.NewTicker(sessionPoll)
	defer t.Stop()
	var why error // what the last answer (or failed question) said
	for {
		out, err := birdc(ctx, s.socket(), "show protocols", commandTimeout)
		switch {
		case err == nil:
			down := notEstablished(out, len(s.opts.Neighbors))
			if len(down) == 0 {
				return nil
			}
			why = fmt.Errorf("not established: %s", strings.Join(down, "; "))
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

// notEstablished reads BIRD 2's `show protocols` table (a header line,
// then "name proto table state since info" per protocol) and returns,
// for each of the n neighbour sessions (peerName), "name: state
// info" when it is not Established (missing ones too).
func notEstablished(table string, n int) []string {
	states := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == "BGP" {
			states[f[0]] = strings.Join(append([]string{f[3]}, f[min(5, len(f)):]...), " ")
		}
	}
	var down []string
	for i := range n {
		name := peerName(i)
		st, ok := states[name]
		switch {
		case !ok:
			down = append(down, name+": not in BIRD's protocols")
		case !strings.Contains(st, "Established"):
			down = append(down, name+": "+st)
		}
	}
	return down
}
