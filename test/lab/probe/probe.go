// Package probe is the lab's client: a bounded loop that opens a fresh
// connection to one target every interval and records, per attempt, when it
// started, how long it took, whether it succeeded and which backend answered.
// From those attempts it computes the outage windows a client saw during a
// failover, the number DESIGN.md's failover targets are stated in.
//
// It owns nothing but its own sockets. It must not reach anything but the
// lab: Options.Validate refuses every target outside 198.18.0.0/15 (the lab's
// addresses, RFC 2544 benchmarking space) and loopback (for unit tests), and
// every run stops by itself after Count attempts or Duration, whichever comes
// first. It does not use HTTP proxies from the environment and follows no
// redirects. The backend name comes from test/cmd/labsrv's answers.
package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Limits that keep every run bounded whatever the flags say.
const (
	MaxCount    = 100000
	MaxDuration = 10 * time.Minute
	maxInflight = 64 // concurrent attempts; more wait for a slot
	maxReply    = 4096
)

var labPrefix = netip.MustParsePrefix("198.18.0.0/15")

// Options says what to probe and for how long.
type Options struct {
	Target   netip.AddrPort // 198.18.0.0/15 or loopback only
	Proto    string         // "tcp" (read the banner line), "http" (GET /, body), "udp" (datagram echo)
	Interval time.Duration  // between attempt starts (default 10ms)
	Timeout  time.Duration  // per attempt (default 200ms)
	Count    int            // attempts at most (default 100, at most MaxCount)
	Duration time.Duration  // wall time at most (default Count*Interval+Timeout, at most MaxDuration)
}

// Validate fills defaults and refuses targets outside the lab.
func (o *Options) Validate() error {
	a := o.Target.Addr().Unmap()
	if !o.Target.IsValid() || o.Target.Port() == 0 {
		return fmt.Errorf("probe: target %q: want address:port", o.Target)
	}
	if !labPrefix.Contains(a) && !a.IsLoopback() {
		return fmt.Errorf("probe: target %q is outside the lab (198.18.0.0/15) and loopback; refusing", o.Target)
	}
	switch o.Proto {
	case "":
		o.Proto = "tcp"
	case "tcp", "http", "udp":
	default:
		return fmt.Errorf("probe: proto %q: want tcp, http or udp", o.Proto)
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 200 * time.Millisecond
	}
	if o.Count <= 0 {
		o.Count = 100
	}
	if o.Count > MaxCount {
		return fmt.Errorf("probe: count %d: at most %d", o.Count, MaxCount)
	}
	if o.Duration <= 0 {
		o.Duration = time.Duration(o.Count)*o.Interval + o.Timeout
	}
	if o.Duration > MaxDuration {
		return fmt.Errorf("probe: duration %v: at most %v", o.Duration, MaxDuration)
	}
	return nil
}

// Attempt is one probe.
type Attempt struct {
	Seq     int           `json:"seq"`
	Start   time.Time     `json:"start"`
	Took    time.Duration `json:"took_ns"`
	OK      bool          `json:"ok"`
	Backend string        `json:"backend,omitempty"` // who answered (labsrv's name)
	Local   string        `json:"local,omitempty"`   // tcp: the connection's own address:port, once connected
	Err     string        `json:"err,omitempty"`
	// Stalled: the attempt failed and ended more than StallSlack after its
	// timeout was due. The prober itself was not running when the timeout
	// fired (a loaded host did not schedule it): an answer may have been
	// waiting in its socket, so the failure says nothing about the target.
	Stalled bool `json:"stalled,omitempty"`
}

// StallSlack is how late past its timeout a failed attempt may end before
// it is Stalled: far more than a timer's and a wake-up's usual lateness
// (well under 10ms on an idle host), far less than a scheduling stall that
// makes a 10ms-interval probe lose several attempts.
const StallSlack = 50 * time.Millisecond

// Outage is a run of consecutive failed attempts. It lasts from the start of
// its first failed attempt to the start of the next successful one (the
// probe's resolution is its interval), or to the end of its last attempt when
// no success followed (Open).
type Outage struct {
	Start  time.Time     `json:"start"`
	End    time.Time     `json:"end"`
	Length time.Duration `json:"length_ns"`
	Failed int           `json:"failed"`
	Open   bool          `json:"open,omitempty"`
}

// Result is a whole run.
type Result struct {
	Target   string         `json:"target"`
	Proto    string         `json:"proto"`
	Interval time.Duration  `json:"interval_ns"`
	Sent     int            `json:"sent"`
	OK       int            `json:"ok"`
	Failed   int            `json:"failed"`
	Backends map[string]int `json:"backends"` // answers per backend name
	Outages  []Outage       `json:"outages"`
	Longest  time.Duration  `json:"longest_outage_ns"`
	Stalled  int            `json:"stalled"` // failed attempts the prober's own stall decided (Attempt.Stalled), counted in Failed too
	Attempts []Attempt      `json:"attempts"`
}

// Summary is one human line, e.g.
// "tcp 198.18.0.100:9000: 300 probes, 12 failed, longest outage 131ms, backends backend1=150 backend2=138".
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d probes, %d failed, longest outage %v", r.Proto, r.Target, r.Sent, r.Failed, r.Longest.Round(time.Millisecond))
	if r.Stalled > 0 {
		fmt.Fprintf(&b, " (%d failed while the prober stalled)", r.Stalled)
	}
	names := make([]string, 0, len(r.Backends))
	for n := range r.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		b.WriteString(", backends")
		for _, n := range names {
			fmt.Fprintf(&b, " %s=%d", n, r.Backends[n])
		}
	}
	return b.String()
}

// Run probes until Count attempts were started or Duration passed or ctx
// ends, waits for the attempts in flight (each bounded by Timeout) and
// returns their results.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		mu       sync.Mutex
		attempts []Attempt
		wg       sync.WaitGroup
		slots    = make(chan struct{}, maxInflight)
	)
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
loop:
	for seq := 0; seq < o.Count; seq++ {
		if seq > 0 {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
			}
		}
		select {
		case <-ctx.Done():
			break loop
		case slots <- struct{}{}:
		}
		wg.Add(1)
		go func(seq int) {
			defer wg.Done()
			defer func() { <-slots }()
			a := attempt(o, seq)
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
		}(seq)
	}
	wg.Wait()
	return summarize(o, attempts), nil
}

func summarize(o Options, attempts []Attempt) *Result {
	sort.Slice(attempts, func(i, j int) bool { return attempts[i].Seq < attempts[j].Seq })
	r := &Result{
		Target: o.Target.String(), Proto: o.Proto, Interval: o.Interval,
		Sent: len(attempts), Backends: map[string]int{}, Attempts: attempts,
	}
	for _, a := range attempts {
		if a.OK {
			r.OK++
			r.Backends[a.Backend]++
		} else {
			r.Failed++
		}
		if a.Stalled {
			r.Stalled++
		}
	}
	r.Outages = Outages(attempts)
	for _, out := range r.Outages {
		r.Longest = max(r.Longest, out.Length)
	}
	return r
}

// ServiceOutages is Outages for what the target did, as far as the prober
// could see: a Stalled attempt is no failure of the target, and it ends
// the outage before it at the end of that outage's last failure seen on
// time (the prober cannot tell how long it lasted past that). A stall of
// the prober alone is then no outage; a target still failing after the
// stall shows as a new one.
func ServiceOutages(attempts []Attempt) []Outage { return outages(attempts, true) }

// Outages returns the runs of consecutive failures in attempts (sorted by Seq).
func Outages(attempts []Attempt) []Outage { return outages(attempts, false) }

// outages is Outages, or ServiceOutages when skipStalled.
func outages(attempts []Attempt, skipStalled bool) []Outage {
	var outs []Outage
	var cur *Outage
	closeAt := func(end time.Time) {
		cur.End, cur.Length = end, end.Sub(cur.Start)
		outs = append(outs, *cur)
		cur = nil
	}
	for _, a := range attempts {
		switch {
		case skipStalled && a.Stalled:
			if cur != nil {
				cur.Open = false
				closeAt(cur.End)
			}
		case !a.OK && cur == nil:
			cur = &Outage{Start: a.Start, End: a.Start.Add(a.Took), Failed: 1, Open: true}
		case !a.OK:
			cur.Failed++
			cur.End = a.Start.Add(a.Took)
		case cur != nil:
			cur.Open = false
			closeAt(a.Start)
		}
	}
	if cur != nil {
		closeAt(cur.End)
	}
	return outs
}

func attempt(o Options, seq int) Attempt {
	a := Attempt{Seq: seq, Start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	var err error
	switch o.Proto {
	case "tcp":
		a.Backend, a.Local, err = probeTCP(ctx, o.Target)
	case "http":
		a.Backend, err = probeHTTP(ctx, o.Target)
	case "udp":
		a.Backend, err = probeUDP(ctx, o.Target, seq)
	}
	a.Took = time.Since(a.Start)
	if err != nil {
		a.Err = err.Error()
		a.Stalled = stalled(o, a.Took)
	} else {
		a.OK = true
	}
	return a
}

// stalled says whether a failed attempt that took took ended too late
// past its timeout to have been decided by the target (Attempt.Stalled).
func stalled(o Options, took time.Duration) bool { return took > o.Timeout+StallSlack }

// dial connects to target over network, with ctx's deadline also set on
// the connection so that its reads and writes end with the attempt.
func dial(ctx context.Context, network string, target netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, target.String())
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	return c, nil
}

// probeTCP connects and reads the first line, the backend's name; local
// is the connection's own address:port (its source port picks its next
// hop on an ECMP router).
func probeTCP(ctx context.Context, target netip.AddrPort) (backend, local string, err error) {
	c, err := dial(ctx, "tcp", target)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	local = c.LocalAddr().String()
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxReply), 256).ReadString('\n')
	if err != nil {
		return "", local, fmt.Errorf("reading banner: %w", err)
	}
	return strings.TrimSpace(line), local, nil
}

// httpTransport never uses a proxy and never reuses a connection, so every
// attempt is a new connection to the target itself.
var httpClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// probeHTTP GETs / and takes the first body line as the backend's name.
func probeHTTP(ctx context.Context, target netip.AddrPort) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target.String()+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return "", fmt.Errorf("reading body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	name, _, _ := strings.Cut(string(body), "\n")
	return strings.TrimSpace(name), nil
}

// probeUDP sends "probe N" and expects labsrv's echo "NAME: probe N".
func probeUDP(ctx context.Context, target netip.AddrPort, seq int) (string, error) {
	c, err := dial(ctx, "udp", target)
	if err != nil {
		return "", err
	}
	defer c.Close()
	msg := fmt.Sprintf("probe %d", seq)
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, maxReply)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	name, rest, ok := strings.Cut(string(buf[:n]), ": ")
	if !ok || rest != msg {
		return "", errors.New("unexpected reply " + fmt.Sprintf("%q", buf[:n]))
	}
	return name, nil
}
