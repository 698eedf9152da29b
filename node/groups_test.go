package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hapair/hapair/ha/resource"
)

// trace records resource operations in order, shared by every fake.
type trace struct {
	mu  sync.Mutex
	ops []string
}

func (tr *trace) add(op string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ops = append(tr.ops, op)
}

func (tr *trace) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	ops := tr.ops
	tr.ops = nil
	return ops
}

// fakeResource records start and stop; startErr makes Start fail.
type fakeResource struct {
	name     string
	tr       *trace
	startErr error
}

var _ resource.Resource = (*fakeResource)(nil)

func (r *fakeResource) Name() string { return r.name }
func (r *fakeResource) Start(context.Context) error {
	r.tr.add("start " + r.name)
	return r.startErr
}
func (r *fakeResource) Stop(context.Context) error {
	r.tr.add("stop " + r.name)
	return nil
}
func (r *fakeResource) Status(context.Context) error { return nil }

func fakeGroup(name string, rs ...*fakeResource) *resource.Group {
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
	tr := &trace{}
	s := newGroupSet()
	s.add("web", fakeGroup("web", &fakeResource{name: "vip old", tr: tr}, &fakeResource{name: "balancer", tr: tr}), nil)
	s.add("db", fakeGroup("db", &fakeResource{name: "db vip", tr: tr}), nil)
	if err := s.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	tr.take()

	if err := s.replace(ctx, "web", fakeGroup("web", &fakeResource{name: "vip new", tr: tr}, &fakeResource{name: "balancer", tr: tr}), nil); err != nil {
		t.Fatalf("replace(web) = %v", err)
	}
	if got, want := tr.take(), []string{"stop balancer", "stop vip old", "start vip new", "start balancer"}; !slices.Equal(got, want) {
		t.Errorf("replacing held web: ops %q, want %q", got, want)
	}

	if err := s.replace(ctx, "db", fakeGroup("db", &fakeResource{name: "db vip 2", tr: tr}), nil); err != nil {
		t.Fatalf("replace(db) = %v", err)
	}
	if got := tr.take(); len(got) != 0 {
		t.Errorf("replacing db, not held: ops %q, want none", got)
	}
	if err := s.Start(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if got, want := tr.take(), []string{"start db vip 2"}; !slices.Equal(got, want) {
		t.Errorf("starting db after replace: ops %q, want %q (the new resources)", got, want)
	}

	if err := s.replace(ctx, "mail", fakeGroup("mail", &fakeResource{name: "mail vip", tr: tr}), nil); err != nil {
		t.Fatalf("replace(mail) = %v", err)
	}
	if _, err := s.get("mail"); err != nil || len(tr.take()) != 0 {
		t.Errorf("a new group is added, not started: get = %v", err)
	}

	broken := &fakeResource{name: "vip bad", tr: tr, startErr: errors.New("address in use")}
	err := s.replace(ctx, "web", fakeGroup("web", broken), nil)
	if err == nil || !strings.Contains(err.Error(), `restarting group "web" with its new resources`) || !strings.Contains(err.Error(), "address in use") {
		t.Errorf("replace(web, failing) = %v, want the restart failure with its reason", err)
	}
	tr.take()
	if err := s.Stop(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got, want := tr.take(), []string{"stop vip bad"}; !slices.Equal(got, want) {
		t.Errorf("stopping web after a failed replace: ops %q, want %q", got, want)
	}
	if _, err := s.get("nope"); err == nil || err.Error() != `group "nope" is not configured` {
		t.Errorf(`get(nope) = %v, want group "nope" is not configured`, err)
	}
}
