package chaos

import (
	"math"
	"time"

	"github.com/hapair/hapair/ha"
)

// soakLoss is the loss soak's heartbeat loss in percent (issue 15).
const soakLoss = 5

// lossModel is what random heartbeat loss alone explains in a soak: each
// heartbeat copy on each link is dropped independently (nftables numgen
// random, one draw per packet), so a heartbeat is lost on every link with
// probability q = (loss/100)^links, and a peer is declared dead after m
// heartbeats in a row are lost.
//
// m is not deadtime/keepalive: the dead timer fires at last-heard +
// deadtime (ha.Machine.expirePeers: silence >= deadtime) and the sender's
// period is keepalive plus its wake-up latency (ha.Machine.maybeSend sets
// the next send a keepalive after the tick that sent), so the heartbeat
// due exactly at deadtime arrives a hair after the timer fired: with
// deadtime = 4 × keepalive, 3 lost heartbeats declare the peer dead (had
// logs "silent for 400.04ms >= deadtime 400ms" and hears the peer again
// within the millisecond). keepalived's backup does the same with
// master_down_interval = 3 × advert + skew (RFC 5798 section 6.1): 3 lost
// adverts.
type lossModel struct {
	keepalive time.Duration // heartbeat (advert) interval
	deadtime  time.Duration // silence that declares the peer dead (keepalived: master_down_interval)
	warntime  time.Duration // silence that logs a late heartbeat (0: ha.Config's default)
	loss      int           // percent per packet per link
	links     int           // links carrying the loss (each heartbeat goes on all)
	d         time.Duration // soak length
}

// lostToSilence is how many heartbeats in a row must be lost for the
// silence to reach s: the (j+1)th is due (j+1) keepalives after the last
// one heard and arrives just after, so j lost reach s when (j+1)k >= s.
func (m lossModel) lostToSilence(s time.Duration) int {
	return int(math.Ceil(float64(s)/float64(m.keepalive))) - 1
}

// runs is the expected number of runs of at least j heartbeats in a row
// lost, in one direction: n heartbeats, each run starting after one that
// got through.
func (m lossModel) runs(j int) float64 {
	q := math.Pow(float64(m.loss)/100, float64(m.links))
	n := float64(m.d) / float64(m.keepalive)
	return n * (1 - q) * math.Pow(q, float64(j))
}

// deaths is the expected number of false failovers: the standby declaring
// the owner dead (only the owner's heartbeats to the standby matter; the
// owner declaring the standby dead moves nothing).
func (m lossModel) deaths() float64 { return m.runs(m.lostToSilence(m.deadtime)) }

// lates is the expected number of late-heartbeat warnings, both nodes.
func (m lossModel) lates() float64 {
	w := m.warntime
	if w == 0 {
		w = ha.Config{Keepalive: m.keepalive, Deadtime: m.deadtime}.WithDefaults().Warntime
	}
	return 2 * m.runs(m.lostToSilence(w))
}

// excess reports whether n false failovers are more than the loss can
// explain: a Poisson tail P(X >= n) below 0.1% at the expected deaths.
func (m lossModel) excess(n int) bool { return poissonTail(m.deaths(), n) < 0.001 }

// poissonTail is P(X >= n) for X ~ Poisson(lambda).
func poissonTail(lambda float64, n int) float64 {
	term, below := math.Exp(-lambda), 0.0
	for k := 0; k < n; k++ {
		below += term
		term *= lambda / float64(k+1)
	}
	return max(0, 1-below)
}

// masterDown is keepalived's master_down_interval for a backup of priority
// prio (RFC 5798 section 6.1): 3 × advert + skew, skew = (256 − prio) ×
// advert / 256.
func masterDown(advert time.Duration, prio int) time.Duration {
	return 3*advert + time.Duration(256-prio)*advert/256
}
