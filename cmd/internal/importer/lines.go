package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"strings"

	"github.com/hapair/hapair/node/serviceconf"
)

// maxFile bounds what an import reads from one file: the sources are a few
// KiB; anything near this is not a config file.
const maxFile = 4 << 20

// readFunc reads one source file; tests and fuzz targets serve files from
// memory.
type readFunc func(name string) ([]byte, error)

func readDisk(name string) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Size() > maxFile {
		return nil, fmt.Errorf("%s: %d bytes, larger than the %d-byte limit", name, fi.Size(), maxFile)
	}
	return os.ReadFile(name)
}

// importFile reads the one file of a single-file format (readDisk) and
// imports it with parse; what names the file in the error ("ipvsadm
// rules"), which is non-nil only when the file cannot be read.
func importFile(what, path string, parse func(path string, data []byte) *Result) (*Result, error) {
	data, err := readDisk(path)
	if err != nil {
		return nil, cannotRead(what, err)
	}
	res := parse(path, data)
	res.Sources = []string{path}
	return res, nil
}

// cannotRead is the error for a file (what: "ha.cf", "ipvsadm rules")
// that could not be read, a sentence for hactl: it names the path and
// the reason the system gave, without the system call's name.
func cannotRead(what string, err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return fmt.Errorf("cannot read %s: %w", pe.Path, pe.Err)
	}
	return fmt.Errorf("cannot read %s: %w", what, err)
}

// srcLine is one logical line: its first physical line number and its text.
type srcLine struct {
	n    int
	text string
}

// splitLines splits data into lines, accepting \n and \r\n. With cont, a line
// ending in a backslash continues on the next one (shell and haresources
// style); the backslash becomes a space.
func splitLines(data []byte, cont bool) []srcLine {
	var out []srcLine
	var pending strings.Builder
	start := 0
	for i, raw := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSuffix(string(raw), "\r")
		if pending.Len() == 0 {
			start = i + 1
		}
		if cont && strings.HasSuffix(s, `\`) {
			pending.WriteString(s[:len(s)-1])
			pending.WriteByte(' ')
			continue
		}
		pending.WriteString(s)
		out = append(out, srcLine{start, pending.String()})
		pending.Reset()
	}
	if pending.Len() > 0 {
		out = append(out, srcLine{start, pending.String()})
	}
	return out
}

// fieldLines yields the words of each line of file (split as splitLines
// does) that has any once its '#' comment is cut, with the line's place:
// the shape of ha.cf and haresources.
func fieldLines(file string, data []byte, cont bool) iter.Seq2[src, []string] {
	return func(yield func(src, []string) bool) {
		for _, l := range splitLines(data, cont) {
			f := strings.Fields(cutComment(l.text, false))
			if len(f) > 0 && !yield(src{file, l.n}, f) {
				return
			}
		}
	}
}

// cutComment removes a '#' comment. With quotes, a '#' inside double quotes
// is kept (ldirectord's receive strings may hold one).
func cutComment(s string, quotes bool) string {
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			if quotes {
				in = !in
			}
		case '#':
			if !in {
				return s[:i]
			}
		}
	}
	return s
}

// shellWords splits s into words the way a POSIX shell does for simple
// commands: white space separates, single quotes keep everything, double
// quotes and backslashes escape. Expansions are not done. ok is false for an
// unterminated quote.
func shellWords(s string) (words []string, ok bool) {
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, true
}

// sanitizeName maps s onto the names serviceconf.ServiceNameError accepts for
// method ("" for any name hapair takes, A-Z a-z 0-9 . _ -; "nat" and "dr"
// drop the '.'): each byte the rule refuses becomes '-', and s is cut to
// max bytes. The rule is config's, asked byte by byte, so the two cannot
// drift apart.
func sanitizeName(s, method string, max int) string {
	b := []byte(s)
	for i := range b {
		if serviceconf.ServiceNameError(string(b[i:i+1]), method) != nil {
			b[i] = '-'
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	if len(b) == 0 {
		return "x"
	}
	return string(b)
}
