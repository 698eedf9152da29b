package config

import (
	"strings"
	"testing"
)

// TestFailbackMinHealthy: the key defaults to 0 (as many as healthy on the
// owner), takes 0..65535, needs a balancer in its group and no more than
// the reals of its services.
func TestFailbackMinHealthy(t *testing.T) {
	withKey := func(v string) string {
		return strings.Replace(minimal+svc, `preferred = "lb1"`, "preferred = \"lb1\"\nauto_failback = true\nfailback_min_healthy = "+v, 1)
	}
	cfg, err := parse([]byte(minimal+svc), "t.toml")
	if err != nil || cfg.Groups[0].FailbackMinHealthy != 0 {
		t.Fatalf("default: %v, %v; want 0", cfg, err)
	}
	cfg, err = parse([]byte(withKey("1")), "t.toml")
	if err != nil || cfg.Groups[0].FailbackMinHealthy != 1 {
		t.Fatalf("failback_min_healthy = 1: %v; want 1", err)
	}
	for _, tc := range []struct{ in, want string }{
		{withKey("-1"), "t.toml:15:24: group[0].failback_min_healthy: -1 is out of range 0..65535"},
		{withKey("65536"), "group[0].failback_min_healthy: 65536 is out of range 0..65535"},
		{withKey("2"), "group[0].failback_min_healthy: 2 is more than the 1 reals (primaries and backups) of the group's services [\"http\"]: auto_failback would never hand the group back"},
		{strings.Replace(withKey("1"), `  { kind = "balancer", services = ["http"] },`, "", 1),
			"group[0].failback_min_healthy: the group has no balancer resource: the minimum counts the healthy reals of its services"},
	} {
		_, err := parse([]byte(tc.in), "t.toml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse() error = %v, want one containing %q", err, tc.want)
		}
	}
}
