package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
)

// svc is a valid group + service pair to build error cases on.
const svc = configtest.Service

func TestParseErrors(t *testing.T) {
	base := minimal + svc
	tests := []struct {
		desc string
		in   string
		want []string // every line must appear in the error, in this order
	}{
		{
			// Linux refuses these names (IFNAMSIZ, dev_valid_name), so had
			// would fail at takeover; the check must say so first.
			desc: "interface names no Linux interface can have",
			in: strings.Replace(strings.Replace(base, `interface = "eth0"
group`, `interface = "eth0:1"
group`, 1), `interface = "eth0" }`, `interface = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }`, 1),
			want: []string{
				`t.toml:8:13: link[0].interface: "eth0:1" is not a valid Linux interface name`,
				`t.toml:15:60: group[0].resources[0].interface: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" is longer than 15 bytes, the most a Linux interface name has`,
			},
		},
		{
			desc: "syntax error",
			in:   "[cluster\nname = 1\n",
			want: []string{"t.toml:1:9: syntax error: "},
		},
		{
			desc: "wrong TOML type stops the decode",
			in:   strings.Replace(minimal, "id = 7", `id = "7"`, 1),
			want: []string{"t.toml:3:6: cluster.id: want an integer, not a TOML string"},
		},
		{
			desc: "key defined twice in an array element",
			in:   strings.Replace(base, `listen = "198.18.0.100:80"`, "listen = \"198.18.0.100:80\"\nlisten = \"198.18.0.100:81\"", 1),
			want: []string{"t.toml:22:1: service[0].listen: key listen is already defined"},
		},
		{
			// The message names TOML types, not Go ones, and the path
			// numbers the array elements.
			desc: "wrong TOML type in an array element",
			in:   strings.Replace(base, `{ address = "198.18.1.11:80" }`, `{ address = "198.18.1.11:80", weight = true }`, 1),
			want: []string{"t.toml:22:50: service[0].reals[0].weight: want an integer, not a TOML boolean"},
		},
		{
			desc: "misspelled key and short deadtime, both reported",
			in:   strings.Replace(minimal, "id = 7", "id = 7\nkeepalive = \"100ms\"\nwarntime = \"150ms\"\ndeadtime = \"180ms\"\nnods = 2", 1),
			want: []string{
				`t.toml:6:12: cluster.deadtime: 180ms must be longer than 2×keepalive (200ms): at 2×keepalive or less a single lost heartbeat declares the peer dead`,
				`t.toml:7:1: cluster.nods: unknown key "nods" (did you mean "nodes"?)`,
			},
		},
		{
			desc: "required cluster keys",
			in:   "[cluster]\n[[link]]\nkind = \"mcast\"\ninterface = \"e\"\ngroup = \"239.1.1.1\"\n",
			want: []string{"t.toml:1:2: cluster.name: required", "t.toml:1:2: cluster.id: required", "t.toml:1:2: cluster.nodes: required"},
		},
		{
			desc: "timer order",
			in:   strings.Replace(minimal, "id = 7", "id = 7\nkeepalive = \"1s\"\nwarntime = \"1s\"\ndeadtime = \"900ms\"\ninitdead = \"500ms\"", 1),
			want: []string{
				"t.toml:5:12: cluster.warntime: 1s must be longer than keepalive 1s",
				"t.toml:6:12: cluster.deadtime: 900ms must be longer than warntime 1s",
				"t.toml:6:12: cluster.deadtime: 900ms must be longer than 2×keepalive (2s)",
				"t.toml:7:12: cluster.initdead: 500ms is shorter than deadtime 900ms",
			},
		},
		{
			desc: "bad durations",
			in:   strings.Replace(minimal, "id = 7", "id = 7\nkeepalive = \"100\"\ndeadtime = \"-1s\"", 1),
			want: []string{
				`t.toml:4:13: cluster.keepalive: "100" is not a duration (want e.g. "250ms", "2s", "5m")`,
				"t.toml:5:12: cluster.deadtime: -1s: want a positive duration",
			},
		},
		{
			desc: "nodes",
			in:   strings.Replace(minimal, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb 2", "lb1"]`, 1),
			want: []string{
				`t.toml:4:17: cluster.nodes[1]: "lb 2": want 1..64 characters`,
				`t.toml:4:25: cluster.nodes[2]: node "lb1" is listed again (first at t.toml:4:10)`,
			},
		},
		{
			desc: "one node",
			in:   strings.Replace(minimal, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1"]`, 1),
			want: []string{"t.toml:4:1: cluster.nodes: want at least 2 nodes, found 1"},
		},
		{
			desc: "links",
			in: minimal + `
[[link]]
kind = "bcast"
[[link]]
kind = "mcast"
group = "198.18.0.1"
peers = { lb1 = "198.18.0.11" }
[[link]]
kind = "ucast"
group = "239.1.1.1"
peers = { lb1 = "198.18.0.11", lb3 = "198.18.0.13", lb2 = "nope" }
`,
			want: []string{
				"t.toml:12:8: link[1].kind: \"bcast\" is not one of mcast, ucast",
				"t.toml:13:3: link[2].interface: required",
				"t.toml:15:9: link[2].group: 198.18.0.1 is not a multicast address (want e.g. 239.255.0.94)",
				"t.toml:16:1: link[2].peers: key \"peers\" is not used by link kind \"mcast\"",
				"t.toml:19:1: link[3].group: key \"group\" is not used by link kind \"ucast\"",
				"t.toml:20:32: link[3].peers.lb3: \"lb3\" is not a node in [\"lb1\" \"lb2\"]",
				"t.toml:20:59: link[3].peers.lb2: \"nope\" is not an IP address",
			},
		},
		{
			desc: "ucast without every node",
			in:   strings.Replace(minimal, "kind = \"mcast\"\ninterface = \"eth0\"\ngroup = \"239.255.0.94\"", "kind = \"ucast\"\npeers = { lb1 = \"198.18.0.11\" }", 1),
			want: []string{"t.toml:8:1: link[0].peers: no address for node \"lb2\": every node needs one"},
		},
		{
			desc: "no link",
			in:   "[cluster]\nname = \"w\"\nid = 1\nnodes = [\"a\", \"b\"]\n",
			want: []string{"t.toml:1:1: link: at least one [[link]] is required"},
		},
		{
			desc: "group checks",
			in: base + `
[[group]]
name = "web"
preferred = "lb9"
priorities = { lb1 = 255, lb7 = 10 }
auto_failback = true
resources = [
  { kind = "vip", address = "198.18.0.100/24", label = "web" },
  { kind = "balancer", services = ["http", "smtp"], role = "master" },
  { kind = "script", path = "rel/x", timeout = "0s" },
  { kind = "ipvs-sync", role = "primary" },
  { kind = "vip", address = "198.18.0.101/24", interface = "eth0", label = "eth1:web" },
  { address = "198.18.0.102/24" },
]
`,
			want: []string{
				"t.toml:25:8: group[1].name: group name \"web\" is used again (first at t.toml:12:8)",
				"t.toml:26:13: group[1].preferred: \"lb9\" is not a node in nodes [\"lb1\" \"lb2\"]",
				"t.toml:27:22: group[1].priorities.lb1: 255 is out of range 1..254",
				"t.toml:27:27: group[1].priorities.lb7: \"lb7\" is not a node in cluster.nodes",
				"t.toml:30:29: group[1].resources[0].address: VIP 198.18.0.100 is already a resource at t.toml:15:29: two owners would fight over it",
				"t.toml:30:56: group[1].resources[0].label: \"web\" needs interface: the kernel wants a label to start with the device name",
				"t.toml:31:36: group[1].resources[1].services[0]: service \"http\" is already activated by the balancer at t.toml:16:36",
				"t.toml:31:44: group[1].resources[1].services[1]: no [[service]] named \"smtp\"",
				"t.toml:31:53: group[1].resources[1].role: key \"role\" is not used by resource kind \"balancer\"",
				"t.toml:32:29: group[1].resources[2].path: \"rel/x\": want a bare name (looked up in /etc/hapair/resource.d, /etc/ha.d/resource.d, /etc/init.d) or an absolute path",
				"t.toml:32:48: group[1].resources[2].timeout: 0s: want a positive duration",
				"t.toml:33:3: group[1].resources[3].interface: required",
				"t.toml:33:32: group[1].resources[3].role: \"primary\" is not one of master, backup",
				"t.toml:34:76: group[1].resources[4].label: \"eth1:web\" must be \"eth0\" or start with \"eth0:\", at most 15 bytes (e.g. \"eth0:vip\")",
				"t.toml:35:3: group[1].resources[5].kind: required",
			},
		},
		{
			desc: "garp",
			in:   base + "\n[garp]\ncount = 0\nform = \"arp\"\ninterval = \"x\"\n",
			want: []string{
				"t.toml:25:9: garp.count: 0 is out of range 1..100",
				`t.toml:26:8: garp.form: "arp" is not one of both, request, reply`,
				`t.toml:27:12: garp.interval: "x" is not a duration`,
			},
		},
		{
			desc: "unknown table and nested keys",
			in:   base + "\n[clustr]\nname = 1\n[[service]]\nname = \"x\"\nlisten = \"127.0.0.1:1\"\nreals = [{ address = \"127.0.0.2:1\", wieght = 1 }]\ncheck = { tipe = \"connect\" }\n",
			want: []string{
				`t.toml:24:2: clustr: unknown key "clustr" (did you mean "cluster"?)`,
				`t.toml:29:37: service[1].reals[0].wieght: unknown key "wieght" (did you mean "weight"?)`,
				`t.toml:30:11: service[1].check.tipe: unknown key "tipe" (did you mean "type"?)`,
			},
		},
		{
			desc: "pings and tracks",
			in:   base + "\n[[ping]]\ntimeout = \"2s\"\ninterval = \"1s\"\nweight = 300\n[[track]]\nname = \"db\"\n[[track]]\nname = \"db\"\nscript = \"/bin/true\"\n",
			want: []string{
				"t.toml:24:3: ping[0].address: required",
				"t.toml:25:11: ping[0].timeout: 2s is longer than interval 1s",
				"t.toml:27:10: ping[0].weight: 300 is out of range 0..254",
				"t.toml:28:3: track[0].script: required",
				`t.toml:31:8: track[1].name: track name "db" used again (first at t.toml:29:8)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := parse([]byte(tt.in), "t.toml")
			configtest.WantErrors(t, err, tt.want)
		})
	}
}

// TestValidBase guards the error table: its base must itself be valid, so
// each case fails only for what it adds.
func TestValidBase(t *testing.T) {
	if _, err := parse([]byte(minimal+svc), "t.toml"); err != nil {
		t.Fatalf("Parse(minimal+svc) error:\n%v", err)
	}
}

// TestKeyLimit: a file with more keys than maxKeys is refused at the first
// key past the limit, before the strict decode (whose cost grows with the
// square of the unknown keys) runs; one at the limit is indexed as usual.
func TestKeyLimit(t *testing.T) {
	file := func(n int) []byte {
		var b strings.Builder
		b.WriteString("[cluster]\n") // one table header
		for i := range n - 1 {
			fmt.Fprintf(&b, "k%d = 1\n", i)
		}
		return []byte(b.String())
	}
	_, err := parse(file(maxKeys+1), "big.toml")
	want := fmt.Sprintf("big.toml:%d:1: more than %d keys in one file", maxKeys+1, maxKeys)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Parse(%d keys) = %.200v, want it to start %q", maxKeys+1, err, want)
	}
	// At the limit the index is built (the strict decode of 10,000 unknown
	// keys would cost seconds here for nothing).
	if _, ierr := buildIndex(file(maxKeys), "big.toml"); ierr != nil {
		t.Errorf("buildIndex(%d keys) = %v, want ok", maxKeys, ierr)
	}
}

// TestBinaryAndBOM: a binary file is named as such at its first NUL, not
// by the parser's complaint about its first odd byte; a UTF-8 byte order
// mark (what Windows editors write) is read past, positions unchanged.
func TestBinaryAndBOM(t *testing.T) {
	_, err := parse([]byte("\x7fELF\x02\x01\x01\x00\x00"), "had.toml")
	if want := "had.toml:1:8: a NUL byte: this is a binary file, not a TOML text"; err == nil || err.Error() != want {
		t.Errorf("Parse(ELF header) error = %v, want %q", err, want)
	}
	_, err = parse([]byte("[cluster]\nname = \"a\x00\"\n"), "had.toml")
	if want := "had.toml:2:10: a NUL byte: this is a binary file, not a TOML text"; err == nil || err.Error() != want {
		t.Errorf("Parse(NUL in line 2) error = %v, want %q", err, want)
	}
	if _, err := parse([]byte("\ufeff"+minimal+svc), "had.toml"); err != nil {
		t.Errorf("Parse(BOM + valid config) error = %v, want none", err)
	}
	_, err = parse([]byte("\ufeff[cluster]\nfrob = 1\n"+strings.TrimPrefix(minimal, "[cluster]\n")+svc), "had.toml")
	if want := `had.toml:2:1: cluster.frob: unknown key "frob"`; err == nil || err.Error() != want {
		t.Errorf("Parse(BOM + unknown key) error = %v, want %q", err, want)
	}
}
