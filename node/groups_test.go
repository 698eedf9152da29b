package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/resource/resourcetest"
)

func fakeGroup(name string, rs ...*resourcetest.Fake) *resource.Group {
	var list []resource.Resource
	for _, r := range rs {
		list = append(list, r)
	}
	return resource.NewGroup(name, list, resource.Timeouts{})
}

// TestGroupReplace is a reload of a group's resources: a held group is
// stopped with its old resources and started with the new ones; a group not
// held only swaps them; a new name is added; a failed restart leaves the
// group not held, with the reason.
func TestGroupReplace(t *testing.T) {
	ctx := context.Background()
	tr := &resourcetest.Trace{}
	s := newGroupSet()
	s.add("web", fakeGroup("web", &resourcetest.Fake{ResName: "vip old", Trace: tr}, &resourcetest.Fake{ResName: "balancer", Trace: tr}), nil)
	s.add("db", fakeGroup("db", &resourcetest.Fake{ResName: "db vip", Trace: tr}), nil)
	if err := s.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	take(tr)

	if err := s.replace(ctx, "web", fakeGroup("web", &resourcetest.Fake{ResName: "vip new", Trace: tr}, &resourcetest.Fake{ResName: "balancer", Trace: tr}), nil); err != nil {
		t.Fatalf("replace(web) = %v", err)
	}
	if got, want := take(tr), []string{"stop balancer", "stop vip old", "start vip new", "start balancer"}; !slices.Equal(got, want) {
		t.Errorf("replacing held web: ops %q, want %q", got, want)
	}

	if err := s.replace(ctx, "db", fakeGroup("db", &resourcetest.Fake{ResName: "db vip 2", Trace: tr}), nil); err != nil {
		t.Fatalf("replace(db) = %v", err)
	}
	if got := take(tr); len(got) != 0 {
		t.Errorf("replacing db, not held: ops %q, want none", got)
	}
	if err := s.Start(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if got, want := take(tr), []string{"start db vip 2"}; !slices.Equal(got, want) {
		t.Errorf("starting db after replace: ops %q, want %q (the new resources)", got, want)
	}

	if err := s.replace(ctx, "mail", fakeGroup("mail", &resourcetest.Fake{ResName: "mail vip", Trace: tr}), nil); err != nil {
		t.Fatalf("replace(mail) = %v", err)
	}
	if _, err := s.get("mail"); err != nil || len(take(tr)) != 0 {
		t.Errorf("a new group is added, not started: get = %v", err)
	}

	broken := &resourcetest.Fake{ResName: "vip bad", Trace: tr, StartErr: errors.New("address in use")}
	err := s.replace(ctx, "web", fakeGroup("web", broken), nil)
	if err == nil || !strings.Contains(err.Error(), `restarting group "web" with its new resources`) || !strings.Contains(err.Error(), "address in use") {
		t.Errorf("replace(web, failing) = %v, want the restart failure with its reason", err)
	}
	take(tr)
	if err := s.Stop(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got, want := take(tr), []string{"stop vip bad"}; !slices.Equal(got, want) {
		t.Errorf("stopping web after a failed replace: ops %q, want %q", got, want)
	}
	if _, err := s.get("nope"); err == nil || err.Error() != `group "nope" is not configured` {
		t.Errorf(`get(nope) = %v, want group "nope" is not configured`, err)
	}
}

// take returns the trace's lines and forgets them.
func take(tr *resourcetest.Trace) []string {
	defer tr.Reset()
	if tr.String() == "" {
		return nil
	}
	return strings.Split(tr.String(), "\n")
}

// blockingStart is a resource whose Start waits until release is closed,
// as a slow script or a BGP session does.
type blockingStart struct{ started, release chan struct{} }

func (b *blockingStart) Name() string { return "slow script" }
func (b *blockingStart) Start(ctx context.Context) error {
	close(b.started)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (b *blockingStart) Stop(context.Context) error   { return nil }
func (b *blockingStart) Status(context.Context) error { return nil }

// TestGroupStatusDuringStart: what status reads of a group (held, the
// timeline, the first packet) does not wait for a start in progress;
// hactl status hung for the whole start (a script's start, up to its 20s
// timeout; a bgp group's, up to 5s) and reported had as wedged.
func TestGroupStatusDuringStart(t *testing.T) {
	b := &blockingStart{started: make(chan struct{}), release: make(chan struct{})}
	s := newGroupSet()
	s.add("web", resource.NewGroup("web", []resource.Resource{b}, resource.Timeouts{}), nil)
	done := make(chan error, 1)
	go func() { done <- s.Start(context.Background(), "web") }()
	<-b.started
	type read struct {
		held             bool
		started, running time.Time
	}
	got := make(chan read, 1)
	go func() {
		var r read
		r.held = s.held("web")
		r.started, r.running, _ = s.timeline("web")
		s.firstPacket("web")
		got <- r
	}()
	select {
	case r := <-got:
		if r.held || r.started.IsZero() || !r.running.IsZero() {
			t.Errorf("during the start: held %v, started %v, running %v; want not held, started set, running zero", r.held, r.started, r.running)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held, timeline and firstPacket waited for the group's start to finish")
	}
	close(b.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !s.held("web") {
		t.Error("after the start: not held")
	}
}
