package lab

import (
	"strings"
	"testing"
)

// TestRulesFor compares the whole nft script a host gets for each fault, so a
// change to the rules shows up as a readable diff (tailscale's fakeOS style).
func TestRulesFor(t *testing.T) {
	o, err := Options{HeartbeatLAN: true, Backends: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	const del = "table netdev hapair_lab\ndelete table netdev hapair_lab\ntable inet hapair_lab\ndelete table inet hapair_lab\n"
	for _, tc := range []struct {
		name string
		cuts []cut
		loss map[string]loss
		mute map[string]bool
		host string
		want string
	}{
		{name: "nothing", host: "lb1", want: del},
		{
			name: "partition lb1 lb2, seen from lb2", host: "lb2",
			cuts: []cut{{a: "lb1", b: "lb2"}},
			want: del + `table netdev hapair_lab {
	chain in_eth0 {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ether saddr { 02:68:70:00:00:0b } counter drop
	}
	chain in_eth1 {
		type filter hook ingress device "eth1" priority -500; policy accept;
		ether saddr { 02:68:70:00:01:0b } counter drop
	}
}
`,
		},
		{
			name: "one link", host: "lb1",
			cuts: []cut{{a: "lb1", b: "lb2", iface: "eth1"}},
			want: del + `table netdev hapair_lab {
	chain in_eth1 {
		type filter hook ingress device "eth1" priority -500; policy accept;
		ether saddr { 02:68:70:00:01:0c } counter drop
	}
}
`,
		},
		{
			name: "isolated client, only eth0", host: "client",
			cuts: []cut{{a: "client", b: "lb1"}, {a: "client", b: "backend1"}},
			want: del + `table netdev hapair_lab {
	chain in_eth0 {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ether saddr { 02:68:70:00:00:0b, 02:68:70:00:00:15 } counter drop
	}
}
`,
		},
		{
			name: "cut elsewhere", host: "backend1",
			cuts: []cut{{a: "lb1", b: "lb2"}},
			want: del,
		},
		{
			name: "heartbeats and loss", host: "lb1",
			cuts: []cut{{a: "lb1", b: "lb2", heartbeats: true}},
			loss: map[string]loss{"lb1": {percent: 5, heartbeats: true}},
			want: del + `table inet hapair_lab {
	chain input {
		type filter hook input priority -300; policy accept;
		iif "lo" accept
		ip saddr { 198.18.0.12, 198.18.1.12 } udp dport 694 counter drop
		udp dport 694 numgen random mod 100 < 5 counter drop
	}
	chain output {
		type filter hook output priority -300; policy accept;
		oif "lo" accept
		ip daddr { 198.18.0.12, 198.18.1.12 } udp dport 694 counter drop
		udp dport 694 numgen random mod 100 < 5 counter drop
	}
}
`,
		},
		{
			name: "mute and VRRP loss", host: "lb1",
			mute: map[string]bool{"lb1": true},
			loss: map[string]loss{"lb1": {percent: 5, match: "ip protocol vrrp"}},
			want: del + `table inet hapair_lab {
	chain input {
		type filter hook input priority -300; policy accept;
		iif "lo" accept
		ip protocol vrrp numgen random mod 100 < 5 counter drop
	}
	chain output {
		type filter hook output priority -300; policy accept;
		oif "lo" accept
		udp dport 694 counter drop
		ip protocol vrrp numgen random mod 100 < 5 counter drop
	}
}
`,
		},
		{
			name: "total loss", host: "client",
			loss: map[string]loss{"client": {percent: 100}},
			want: del + `table inet hapair_lab {
	chain input {
		type filter hook input priority -300; policy accept;
		iif "lo" accept
		counter drop
	}
	chain output {
		type filter hook output priority -300; policy accept;
		oif "lo" accept
		counter drop
	}
}
`,
		},
	} {
		l := plan(t, o, "hp-1-0000", t.TempDir())
		l.cuts = tc.cuts
		if tc.loss != nil {
			l.loss = tc.loss
		}
		if tc.mute != nil {
			l.mute = tc.mute
		}
		if got := l.rulesFor(l.byName[tc.host]); got != tc.want {
			t.Errorf("%s: rulesFor(%s) =\n%s\nwant\n%s", tc.name, tc.host, got, tc.want)
		}
	}
}

func TestPlan(t *testing.T) {
	o, err := Options{Nodes: 3, Backends: 2, HeartbeatLAN: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := plan(t, o, "hp-1-abcd", t.TempDir())
	var got []string
	for _, h := range l.Hosts() {
		s := h.Name + " " + h.Netns + " " + h.Addr.String() + " " + h.MAC("eth0").String()
		if h.HBAddr.IsValid() {
			s += " " + h.HBAddr.String() + " " + h.MAC("eth1").String()
		}
		got = append(got, s)
	}
	want := []string{
		"lb1 hp-1-abcd-lb1 198.18.0.11 02:68:70:00:00:0b 198.18.1.11 02:68:70:00:01:0b",
		"lb2 hp-1-abcd-lb2 198.18.0.12 02:68:70:00:00:0c 198.18.1.12 02:68:70:00:01:0c",
		"lb3 hp-1-abcd-lb3 198.18.0.13 02:68:70:00:00:0d 198.18.1.13 02:68:70:00:01:0d",
		"backend1 hp-1-abcd-backend1 198.18.0.21 02:68:70:00:00:15",
		"backend2 hp-1-abcd-backend2 198.18.0.22 02:68:70:00:00:16",
		"client hp-1-abcd-client 198.18.0.50 02:68:70:00:00:32",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("plan(3 nodes, 2 backends, heartbeat LAN) =\n%s\nwant\n%s", g, w)
	}
	if n, b, c := len(l.Nodes()), len(l.Backends()), l.Client().Name; n != 3 || b != 2 || c != "client" {
		t.Errorf("Nodes, Backends, Client = %d, %d, %s, want 3, 2, client", n, b, c)
	}
	for _, h := range l.Hosts() {
		if !LAN.Contains(h.Addr) || (h.HBAddr.IsValid() && !HeartbeatLAN.Contains(h.HBAddr)) {
			t.Errorf("%s: address outside the lab: %s %s", h.Name, h.Addr, h.HBAddr)
		}
	}
}

func TestOptionsLimits(t *testing.T) {
	for _, tc := range []struct {
		in      Options
		wantErr string
	}{
		{Options{Nodes: MaxNodes + 1}, "lab: Nodes 10: want 1..9"},
		{Options{Nodes: -1}, "lab: Nodes -1: want 1..9"},
		{Options{Backends: MaxBackends + 1}, "lab: Backends 30: want at most 29"},
	} {
		if _, err := tc.in.withDefaults(); err == nil || err.Error() != tc.wantErr {
			t.Errorf("withDefaults(%+v) = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
	o, _ := Options{Backends: -1}.withDefaults()
	if o.Backends != 0 || o.Nodes != 2 || o.StopTimeout <= 0 {
		t.Errorf("withDefaults(Backends: -1) = %+v, want 2 nodes, 0 backends, a StopTimeout", o)
	}
}
