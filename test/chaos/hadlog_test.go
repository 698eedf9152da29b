package chaos

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// had logs with slog's text handler: every line begins time=<RFC 3339>,
// truncated to the millisecond.
var logTime = regexp.MustCompile(`^time=(\S+)`)

// logLine is one line of had's log that a pattern matched: its time and
// the pattern's submatches.
type logLine struct {
	at    time.Time
	match []string
}

// logLines returns the lines of log that re matches, in log order, with
// their times; lines without a readable time are skipped.
func logLines(log string, re *regexp.Regexp) []logLine {
	var out []logLine
	for _, line := range strings.Split(log, "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		tm := logTime.FindStringSubmatch(strings.TrimSpace(line))
		if tm == nil {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, tm[1]); err == nil {
			out = append(out, logLine{at: at, match: m})
		}
	}
	return out
}

var groupMaster = regexp.MustCompile(`msg="group master"`)

// takeoverAfter returns how long after since log's first "group master"
// line came (ha/agent logs it once the group's resources, the VIP among
// them, have started), or an error when none came after since. Log times
// are truncated to the millisecond.
func takeoverAfter(log string, since time.Time) (time.Duration, error) {
	for _, l := range logLines(log, groupMaster) {
		if !l.at.Before(since.Truncate(time.Millisecond)) {
			return max(0, l.at.Sub(since)), nil
		}
	}
	return 0, fmt.Errorf("no \"group master\" line logged after %s", since.Format("15:04:05.000"))
}

var groupStarting = regexp.MustCompile(`msg="group starting"`)

// startTimes returns the times of had's "group starting" lines in log.
func startTimes(log string) []time.Time {
	var ts []time.Time
	for _, l := range logLines(log, groupStarting) {
		ts = append(ts, l.at)
	}
	return ts
}

// groupState matches the line ha/agent logs on every state change of a
// group: msg="group <state>".
var groupState = regexp.MustCompile(`msg="group (standby|starting|master|stopping|failed)"`)

// settled reads the pair's logs (node name to had's output): how long
// after since the last state change on either node was logged, 0 when
// none was (nobody changed state), and the nodes whose last logged state
// is master. Log times are truncated to the millisecond: the figure is
// at most 1 ms below the true one.
func settled(logs map[string]string, since time.Time) (time.Duration, []string) {
	var last time.Duration
	var masters []string
	for _, node := range []string{"lb1", "lb2"} {
		lines := logLines(logs[node], groupState)
		for _, l := range lines {
			last = max(last, l.at.Sub(since)) // changes before since count 0
		}
		if n := len(lines); n > 0 && lines[n-1].match[1] == "master" {
			masters = append(masters, node)
		}
	}
	return last, masters
}
