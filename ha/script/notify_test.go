package script

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

func TestNotifier(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	hook := testkit.WriteScript(t, dir, "hook", `echo "$HAPAIR_GROUP|$HAPAIR_STATE|$HAPAIR_NODE|$HAPAIR_REASON|$*" >> `+out+"\n")
	n, err := NewNotifier(NotifySpec{Program: hook, Args: []string{"-v"}, Node: "lb1", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n.Notify("web", "MASTER", "peer lb2 dead: silent for 412ms > deadtime 400ms")
	n.Notify("web", "BACKUP", "hactl standby")
	n.Notify("web", "MASTER", "hactl takeover")
	n.Notify("db", "BACKUP", "initdead")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n.Notify("web", "FAULT", "after close") // ignored
	b, _ := os.ReadFile(out)
	var web, db []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "web|") {
			web = append(web, l)
		} else {
			db = append(db, l)
		}
	}
	wantWeb := []string{
		"web|MASTER|lb1|peer lb2 dead: silent for 412ms > deadtime 400ms|-v GROUP web MASTER",
		"web|BACKUP|lb1|hactl standby|-v GROUP web BACKUP",
		"web|MASTER|lb1|hactl takeover|-v GROUP web MASTER",
	}
	testkit.EqualLines(t, "web hooks, in order", web, wantWeb)
	if want := "db|BACKUP|lb1|initdead|-v GROUP db BACKUP"; len(db) != 1 || db[0] != want {
		t.Errorf("db hooks = %q, want [%q]", db, want)
	}
}

func TestNotifierNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	hook := testkit.WriteScript(t, dir, "slow", "sleep 30\n")
	n, err := NewNotifier(NotifySpec{Program: hook, Timeout: 200 * time.Millisecond, Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 5 {
		n.Notify("web", "MASTER", "transition "+string(rune('0'+i)))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("5 Notify calls with a hanging hook took %v, want immediate", d)
	}
	// Queue 2: the first is running, or still queued if its worker has
	// not picked it up yet, so 2 or 3 were dropped.
	if got := n.Dropped(); got != 2 && got != 3 {
		t.Errorf("Dropped() = %d, want 2 or 3", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil { // 3 runs, each killed at 200ms (+2s grace at most)
		t.Fatal(err)
	}
}

func TestNewNotifierErrors(t *testing.T) {
	if _, err := NewNotifier(NotifySpec{}); err == nil || err.Error() != "script: notify: program: want a program path" {
		t.Errorf("NewNotifier(empty) = %v", err)
	}
	if _, err := NewNotifier(NotifySpec{Program: "notify.sh"}); err == nil || err.Error() != `script: notify: program: "notify.sh": want an absolute path` {
		t.Errorf("NewNotifier(relative) = %v", err)
	}
}
