package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime/stime in /proc/PID/stat (100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// eachInGroup calls fn with the fields after the command name of
// /proc/PID/stat (state is f[0], pgrp f[2], utime f[11], stime f[12],
// rss f[21]) for every process in process group pgid.
func eachInGroup(pgid int, fn func(f []string)) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// The command name (field 2) may hold spaces; the fields after
		// the last ')' are fixed.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 22 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			fn(f)
		}
	}
}

// groupCPU returns the CPU time (user + system) used so far by every
// process in process group pgid: nginx's and HAProxy's workers as well as
// the master, all threads of each. Time spent in softirq on a process's
// behalf is not in these counters on kernels with IRQ time accounting, for
// every proxy alike.
func groupCPU(pgid int) time.Duration {
	var ticks int64
	eachInGroup(pgid, func(f []string) {
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	})
	return time.Duration(ticks) * clockTick
}

// groupRSS returns the resident set summed over every process in process
// group pgid, in bytes (0 for pgid 0).
func groupRSS(pgid int) int64 {
	if pgid == 0 {
		return 0
	}
	var pages int64
	eachInGroup(pgid, func(f []string) {
		n, _ := strconv.ParseInt(f[21], 10, 64)
		pages += n
	})
	return pages * int64(os.Getpagesize())
}

// peakRSS samples groupRSS every 500ms until stop closes and returns the
// largest value seen.
func peakRSS(pgid int, stop <-chan struct{}) int64 {
	if pgid == 0 {
		<-stop
		return 0
	}
	peak := groupRSS(pgid)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return max(peak, groupRSS(pgid))
		case <-t.C:
			peak = max(peak, groupRSS(pgid))
		}
	}
}
