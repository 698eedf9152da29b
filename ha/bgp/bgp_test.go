package bgp

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testOpts = Options{
	ASN: 65001, BFD: true,
	Neighbors: []Neighbor{{Address: netip.MustParseAddr("198.18.0.1"), ASN: 65000}, {Address: netip.MustParseAddr("2001:db8::1"), ASN: 65000}},
}

var testGroups = map[string][]netip.Prefix{
	"web":    {netip.MustParsePrefix("198.18.2.100/32"), netip.MustParsePrefix("2001:db8:2::100/128")},
	"db.two": {netip.MustParsePrefix("198.18.2.101/32")},
}

func TestBirdConf(t *testing.T) {
	got := birdConf(testOpts, testGroups)
	for _, want := range []string{
		"log \"bird.log\" { warning, error, fatal };\n",
		"protocol bfd { interface \"*\" { min rx interval 100 ms; min tx interval 100 ms; idle tx interval 1000 ms; multiplier 3; }; }",
		"protocol static " + protocolName("web") + " {\n  disabled;\n  ipv4;\n  route 198.18.2.100/32 blackhole;\n}",
		"protocol static " + protocolName("web") + "_6 {\n  disabled;\n  ipv6;\n  route 2001:db8:2::100/128 blackhole;\n}",
		"protocol static " + protocolName("db.two") + " {",
		"  neighbor 198.18.0.1 as 65000;\n  hold time 3;",
		"  connect delay time 1;\n",
		"  bfd on;\n  ipv4 { import none; export where proto ~ \"hapair_*\"; };",
		"  neighbor 2001:db8::1 as 65000;",
		"  bfd on;\n  ipv6 { import none;",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("birdConf() lacks\n%s\n--- got:\n%s", want, got)
		}
	}
	// No IPv6 neighbour: the IPv4 session carries the IPv6 routes too.
	v4only := testOpts
	v4only.Neighbors = testOpts.Neighbors[:1]
	got = birdConf(v4only, testGroups)
	if want := "  ipv4 { import none; export where proto ~ \"hapair_*\"; };\n  ipv6 { import none; export where proto ~ \"hapair_*\"; };\n}"; !strings.Contains(got, want) {
		t.Errorf("birdConf(IPv4 neighbour only) lacks\n%s\n--- got:\n%s", want, got)
	}
	if got := birdConf(v4only, map[string][]netip.Prefix{"db.two": testGroups["db.two"]}); strings.Contains(got, "ipv6 {") {
		t.Errorf("birdConf(IPv4 routes only) has an ipv6 channel:\n%s", got)
	}
	if protocolName("a.b") == protocolName("a_b") {
		t.Errorf("protocolName(a.b) = protocolName(a_b) = %q", protocolName("a_b"))
	}
}

// TestBirdParses runs BIRD's own parser (bird -p) on the generated config,
// where BIRD is installed.
func TestBirdParses(t *testing.T) {
	if err := Check(""); err != nil {
		t.Skipf("skipping: %v", err)
	}
	v4only := testOpts
	v4only.Neighbors = testOpts.Neighbors[:1]
	for i, o := range []Options{testOpts, v4only} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "bird.conf")
		if err := os.WriteFile(conf, []byte(birdConf(o, testGroups)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(DefaultBinary, "-p", "-c", conf)
		cmd.Dir = dir // BIRD opens its log, bird.log, there
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bird -p (options %d): %v: %s", i, err, out)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{ASN: 0, Neighbors: testOpts.Neighbors}, "asn: 0 is out of range 1..4294967295 (RFC 6793)"},
		{Options{ASN: 23456, Neighbors: testOpts.Neighbors}, "asn: 23456 is AS_TRANS (RFC 6793), not an AS"},
		{Options{ASN: 65001}, "neighbors: want at least one"},
		{Options{ASN: 65001, Neighbors: testOpts.Neighbors, HoldTime: time.Second}, "hold_time: 1s is under 3s"},
	} {
		if err := tt.o.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.o, err, tt.want)
		}
	}
	if err := testOpts.Validate(); err != nil {
		t.Errorf("Validate(testOpts) = %v", err)
	}
}

// TestBirdc talks to a fake control socket speaking BIRD's reply format.
func TestBirdc(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "bird.ctl")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	replies := map[string]string{
		"enable p":    "0011 p: enabled\n",
		"show status": "1000-BIRD 2.0.12\n1011-Router ID is 198.18.0.11\n Current server time is now\n0013 Daemon is up and running\n",
		"enable q":    "8003 No protocols match\n",
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("0001 BIRD 2.0.12 ready.\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Write([]byte(replies[strings.TrimSpace(line)]))
			c.Close()
		}
	}()
	ctx := context.Background()
	if text, err := birdc(ctx, sock, "enable p", time.Second); err != nil || text != "p: enabled" {
		t.Errorf("birdc(enable p) = %q, %v", text, err)
	}
	if text, err := birdc(ctx, sock, "show status", time.Second); err != nil || !strings.Contains(text, "Current server time") || !strings.HasSuffix(text, "Daemon is up and running") {
		t.Errorf("birdc(show status) = %q, %v", text, err)
	}
	if _, err := birdc(ctx, sock, "enable q", time.Second); err == nil || !strings.Contains(err.Error(), `BIRD refused "enable q": 8003 No protocols match`) {
		t.Errorf("birdc(enable q) error = %v", err)
	}
}
