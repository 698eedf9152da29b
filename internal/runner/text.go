package runner

import (
	"fmt"
	"strings"
)

// TextError reports why s cannot be a program path or argument that had
// passes to a program, nil when it can: it holds no control character.
// execve(2) ends each string at a NUL (os/exec refuses one outright), and
// no Heartbeat or keepalived config can pass a newline or carriage return
// to a program (they split a command line at white space); one here is
// a mistake that would also split the command's log line.
func TextError(s string) error {
	if strings.ContainsFunc(s, isControl) {
		return fmt.Errorf("%q holds a control character: a program's path and arguments take none", s)
	}
	return nil
}

// isControl reports whether c is an ASCII control character (C0 or DEL).
func isControl(c rune) bool { return c < ' ' || c == 0x7f }
