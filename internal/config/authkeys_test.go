package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/hapair/hapair/authkeys"
)

// TestAuthkeysError: an authkeys problem is placed at the key that names
// the file, with the file's own place after it; without the key, at the
// config file.
func TestAuthkeysError(t *testing.T) {
	written, err := parse([]byte(strings.Replace(minimal+svc, "id = 7", "id = 7\nauthkeys = \"/etc/ha.d/authkeys\"", 1)), "had.toml")
	if err != nil {
		t.Fatal(err)
	}
	dflt, err := parse([]byte(minimal+svc), "had.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, _, parseErr := authkeys.Parse(strings.NewReader("auth 1\n1 sha256\n"), "/etc/ha.d/authkeys")
	tests := []struct {
		desc string
		cfg  *Config
		err  error
		want string
	}{
		{"a line of the file", written, parseErr,
			`had.toml:4:12: cluster.authkeys: /etc/ha.d/authkeys:2:9: key 1: sha256 needs a secret ("1 sha256 SECRET")`},
		{"the file missing", written, fmt.Errorf("authkeys: %w", &fs.PathError{Op: "open", Path: "/etc/ha.d/authkeys", Err: fs.ErrNotExist}),
			`had.toml:4:12: cluster.authkeys: cannot read /etc/ha.d/authkeys: file does not exist`},
		{"the file not regular", written, fmt.Errorf("authkeys: %w", errors.New("/etc/ha.d/authkeys: is a named pipe (FIFO), want a regular file")),
			`had.toml:4:12: cluster.authkeys: /etc/ha.d/authkeys: is a named pipe (FIFO), want a regular file`},
		{"the default file", dflt, authkeys.Errors{{File: DefaultAuthkeys, Msg: "mode 0644 gives group or others access to the keys"}},
			`had.toml: cluster.authkeys: /etc/hapair/authkeys: mode 0644 gives group or others access to the keys`},
		{"no error", written, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := tt.cfg.AuthkeysError(tt.err)
			var errs Errors
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("AuthkeysError(nil) = %v", err)
			case tt.want != "" && (!errors.As(err, &errs) || err.Error() != tt.want):
				t.Errorf("AuthkeysError() = %v (%T), want Errors:\n%s", err, err, tt.want)
			}
		})
	}
}
