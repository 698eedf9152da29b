package importer

import (
	"slices"
	"testing"
)

// The shell-line helpers of the ipvsadm import read quotes and backslash
// escapes alike: a separator or '#' inside either does not count.
func TestShellLine(t *testing.T) {
	split := []struct {
		in   string
		want []string
	}{
		{`ipvsadm -C; ipvsadm -A -t 198.18.0.100:80`, []string{`ipvsadm -C`, ` ipvsadm -A -t 198.18.0.100:80`}},
		{`a && b || c | d`, []string{`a `, ` b `, ` c `, ` d`}},
		{`echo "a;b" 'c&&d' e\;f`, []string{`echo "a;b" 'c&&d' e\;f`}},
		{`echo "x\";y"; z`, []string{`echo "x\";y"`, ` z`}},
	}
	for _, tt := range split {
		if got := splitShell(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitShell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	cut := map[string]string{
		`ipvsadm -C # clear`:    `ipvsadm -C `,
		`# all comment`:         ``,
		`echo a#b "c # d" \# e`: `echo a#b "c # d" \# e`,
		`echo 'x # y' # z`:      `echo 'x # y' `,
	}
	for in, want := range cut {
		if got := cutShellComment(in); got != want {
			t.Errorf("cutShellComment(%q) = %q, want %q", in, got, want)
		}
	}
}
