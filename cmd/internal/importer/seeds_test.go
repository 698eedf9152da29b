package importer

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// seedImports are the setups of shared/seeds written out as files, with
// what their import must give. Incomplete ones say why in their warnings.
var seedImports = []struct {
	seed     string // directory under testdata/seeds for Heartbeat imports
	name     string
	run      func(dir string) (*Result, error) // dir: a copy of seed dir (Heartbeat)
	complete bool
	warns    []string
}{
	{"ultramonkey", "Ultra Monkey (Heartbeat + ldirectord + LVSSyncDaemonSwap)", func(dir string) (*Result, error) { return Heartbeat(dir) }, true,
		[]string{"authkeys:3: key 1 uses sha1", "virtual address 10.0.0.150 of service http-9072", "haresources:1: LVSSyncDaemonSwap::master: not carried over: the group's nat/dr services keep their connections in conntrack"}},
	// lb1's ha.cf names only lb2's address (line 15, the one line that
	// differs between the nodes), so lb1's own address is a placeholder.
	{"haproxy-heartbeat2", "HAProxy + Heartbeat 2", func(dir string) (*Result, error) { return Heartbeat(dir) }, false,
		[]string{"ha.cf:8: logfacility: not carried over", "ha.cf:15: not converted: ucast eth1: no address for node lb2", "authkeys:2: key 3 uses md5"}},
	// lvs-init adds no real itself: node_up.alert adds them at run time
	// from a file, which an import cannot read.
	{"", "RapidScale lvs-init", func(string) (*Result, error) { return IPVSAdmFile("testdata/seeds/rapidscale/lvs-init") }, false,
		[]string{"lvs-init:15: ipvsadm -a -t 10.0.0.150:80 -r $i -g: shell variable $i is not set", "lvs-init:11: not converted: virtual service 10.0.0.150:80 has no real server"}},
	{"", "RapidScale ipvsadm-save", func(string) (*Result, error) { return IPVSAdmFile("testdata/seeds/rapidscale/ipvsadm-save") }, true,
		[]string{`ipvsadm-save:4: gate: not forwarded by hapair's kernel "dr" method: scheduler wlc needs per-real connection counts`}},
	{"", "Zeus monitor.cfg", func(string) (*Result, error) { return Zeus("testdata/seeds/zeus/monitor.cfg", "10.0.0.150:80") }, true,
		nil},
}

// seedDir copies a seed directory to a temporary one with authkeys at mode
// 0600, as it is on a Heartbeat node (git keeps no such mode).
func seedDir(t *testing.T, name string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata/seeds", name, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("seed %s: no files (%v)", name, err)
	}
	m := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(f)] = string(data)
	}
	return writeDir(t, m)
}

func TestSeeds(t *testing.T) {
	for _, sd := range seedImports {
		t.Run(sd.name, func(t *testing.T) {
			dir := ""
			if sd.seed != "" {
				dir = seedDir(t, sd.seed)
			}
			res, err := sd.run(dir)
			if err != nil {
				t.Fatal(err)
			}
			want{complete: sd.complete, warns: sd.warns}.check(t, res)
			again, err := sd.run(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.TOML, again.TOML) || !reflect.DeepEqual(res.Warnings, again.Warnings) {
				t.Errorf("a second import of the same files differs:\n%s\n---\n%s", res.TOML, again.TOML)
			}
		})
	}
}

// TestDeterministic imports every testdata file twice, from fresh copies,
// and wants the same bytes.
func TestDeterministic(t *testing.T) {
	files, _ := filepath.Glob("testdata/seeds/*/*")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range []func() *Result{
			func() *Result { return ldirectord(f, data) },
			func() *Result { return ipvsadm(f, data) },
			func() *Result { return zeus(f, data, "") },
		} {
			a, b := imp(), imp()
			if !bytes.Equal(a.TOML, b.TOML) || !reflect.DeepEqual(a.Warnings, b.Warnings) {
				t.Errorf("%s: two imports differ", f)
			}
		}
	}
}
