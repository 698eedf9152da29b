package bgp

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// birdc runs one command on BIRD's control socket and returns the reply's
// text. The protocol (BIRD's doc, "Remote control"; birdc speaks it): the
// server greets with "0001 BIRD x.y ready."; each reply line starts with a
// 4-digit code followed by '-' (more lines follow) or ' ' (the last line),
// or with a space alone (continuation of the previous code). Codes from
// 8000 up are errors (8xxx run-time, 9xxx parse).
func birdc(ctx context.Context, socket, cmd string, timeout time.Duration) (string, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("bgp: connecting to BIRD's control socket %s: %w", socket, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	r := bufio.NewReader(conn)
	if _, _, err := readReply(r); err != nil {
		return "", fmt.Errorf("bgp: BIRD's greeting on %s: %w", socket, err)
	}
	if _, err := fmt.Fprintf(conn, "%s\n", cmd); err != nil {
		return "", fmt.Errorf("bgp: sending %q to BIRD: %w", cmd, err)
	}
	code, text, err := readReply(r)
	if err != nil {
		return "", fmt.Errorf("bgp: BIRD's reply to %q: %w", cmd, err)
	}
	if code >= 8000 {
		return text, fmt.Errorf("bgp: BIRD refused %q: %d %s", cmd, code, text)
	}
	return text, nil
}

// readReply reads one reply up to its last line; it returns the last
// line's code and every line's text joined by newlines.
func readReply(r *bufio.Reader) (int, string, error) {
	var lines []string
	for range 10000 { // a reply is bounded; BIRD's longest are route dumps
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, "", err
		}
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "+") {
			lines = append(lines, line[1:])
			continue
		}
		if len(line) < 5 {
			return 0, "", fmt.Errorf("malformed line %q", line)
		}
		code, err := strconv.Atoi(line[:4])
		if err != nil {
			return 0, "", fmt.Errorf("malformed line %q", line)
		}
		lines = append(lines, line[5:])
		if line[4] == ' ' {
			return code, strings.Join(lines, "\n"), nil
		}
	}
	return 0, "", fmt.Errorf("reply longer than 10000 lines")
}
