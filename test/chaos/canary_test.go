package chaos

import (
	"slices"
	"sync"
	"time"
)

// canary tells a host-wide scheduling stall from heartbeat loss. On a
// loaded machine (the lab's 2 cores are shared with builds and other
// tests) no process may run for a few hundred milliseconds; had then sends
// and reads nothing and its peer declares it dead, whatever the link
// loss. A goroutine that wakes every 5 ms records every wake-up later than
// threshold: a takeover inside such a gap is counted as a stall, not as a
// false failover caused by loss, and both are reported.
type canary struct {
	mu    sync.Mutex
	gaps  [][2]time.Time
	stop  chan struct{}
	done  chan struct{}
	limit time.Duration
}

const maxGaps = 10000 // bound on the memory of a 10-minute soak

func startCanary(threshold time.Duration) *canary {
	c := &canary{stop: make(chan struct{}), done: make(chan struct{}), limit: threshold}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		prev := time.Now()
		for {
			select {
			case <-c.stop:
				return
			case now := <-tick.C:
				if now.Sub(prev) > c.limit {
					c.mu.Lock()
					if len(c.gaps) < maxGaps {
						c.gaps = append(c.gaps, [2]time.Time{prev, now})
					}
					c.mu.Unlock()
				}
				prev = now
			}
		}
	}()
	return c
}

// finish stops the canary and returns the gaps it saw.
func (c *canary) finish() [][2]time.Time {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gaps
}

// seen returns the gaps the canary saw so far; it keeps running.
func (c *canary) seen() [][2]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.gaps)
}

// during reports whether t falls within slack of a gap.
func during(gaps [][2]time.Time, t time.Time, slack time.Duration) bool {
	for _, g := range gaps {
		if !t.Before(g[0].Add(-slack)) && !t.After(g[1].Add(slack)) {
			return true
		}
	}
	return false
}

// stallStep is the shortest gap the soak's canary records: half the probe
// timeout, so every stall that could fail a probe on its own is seen.
const stallStep = 50 * time.Millisecond

// longer returns the gaps of at least d.
func longer(gaps [][2]time.Time, d time.Duration) [][2]time.Time {
	var out [][2]time.Time
	for _, g := range gaps {
		if g[1].Sub(g[0]) >= d {
			out = append(out, g)
		}
	}
	return out
}

// overlaps reports whether [from, to] overlaps a gap widened by slack on
// both sides (the test process and the one that stalled are not scheduled
// at exactly the same moments).
func overlaps(gaps [][2]time.Time, from, to time.Time, slack time.Duration) bool {
	for _, g := range gaps {
		if !to.Before(g[0].Add(-slack)) && !from.After(g[1].Add(slack)) {
			return true
		}
	}
	return false
}
