package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

var (
	reqsRe    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalRe   = regexp.MustCompile(`(\d+) requests in`)
	latRe     = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	sockErrRe = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	non2xxRe  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// runWrk runs wrk against tg once (it inherits this program's CPU 0 when
// pinned).
func runWrk(ctx context.Context, tg target, keepAlive bool) (sample, error) {
	args := []string{"-t", strconv.Itoa(*threads), "-c", strconv.Itoa(*conns), "-d", duration.String(), "--latency"}
	if !keepAlive {
		args = append(args, "-H", "Connection: close")
	}
	args = append(args, "http://"+tg.addr+"/")
	wctx, cancel := context.WithTimeout(ctx, *duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(wctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return sample{}, fmt.Errorf("wrk %s %s: %w\n%s", tg.name, tg.mode, err, out)
	}
	s, err := parseWrk(tg, string(out))
	s.loadCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return s, err
}

func parseWrk(tg target, out string) (sample, error) {
	var s sample
	m := reqsRe.FindStringSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("wrk output for %s %s has no Requests/sec:\n%s", tg.name, tg.mode, out)
	}
	s.rate, _ = strconv.ParseFloat(m[1], 64)
	if m := totalRe.FindStringSubmatch(out); m != nil {
		s.ops, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, lm := range latRe.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(lm[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[lm[3]]
		d := time.Duration(v * float64(unit)).Round(time.Microsecond)
		if lm[1] == "50" {
			s.p50 = d
		} else {
			s.p99 = d
		}
	}
	if m := sockErrRe.FindStringSubmatch(out); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			s.errors += n
		}
	}
	if m := non2xxRe.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		s.errors += n
	}
	return s, nil
}
