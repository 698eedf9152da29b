package kernel

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/nft"
)

// A table a crashed run left is replaced at the next start; a table of
// the same name without hapair's marker is never touched.
func TestStaleAndForeignTables(t *testing.T) {
	s := newNAT(t)
	lb1 := s.l.Host("lb1")
	old := s.svc("rr")
	old.Name = "old"
	s.b.apply(old)
	// A new run (a fresh Tables, as after a crash) with another service.
	restarted := newBalancer(t, lb1)
	restarted.apply(s.svc("rr"))
	out, err := lb1.RunFor(5*time.Second, "nft", "list", "table", "ip", "hapair")
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	if strings.Contains(string(out), "svc_old") || !strings.Contains(string(out), "svc_web") {
		t.Errorf("after a restart the table holds:\n%s\nwant svc_web only (the stale table replaced)", out)
	}
	if name, _, c, err := s.client.hello(vip + ":80"); err != nil {
		t.Errorf("served after the restart: %v", err)
	} else {
		c.Close()
		t.Logf("served by %s", name)
	}

	// Someone else's table of the same name.
	if err := inNetns(lb1.Netns, restarted.tb.Remove); err != nil {
		t.Fatal(err)
	}
	lb1.Sh(t, `nft add table ip hapair; nft add chain ip hapair theirs`)
	err = inNetns(lb1.Netns, func() error {
		c, err := nft.OpenNetlink()
		if err != nil {
			return err
		}
		return nft.New(c).Apply([]nft.Service{s.svc("rr")})
	})
	if !errors.Is(err, nft.ErrNotOurs) {
		t.Fatalf("Apply over a foreign table = %v, want ErrNotOurs", err)
	}
	out, _ = lb1.RunFor(5*time.Second, "nft", "list", "table", "ip", "hapair")
	if !strings.Contains(string(out), "chain theirs") || strings.Contains(string(out), "svc_") {
		t.Errorf("the foreign table was touched:\n%s", out)
	}
	lb1.Sh(t, `nft delete table ip hapair`)
}
