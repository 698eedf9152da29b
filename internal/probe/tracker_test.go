package probe

import (
	"errors"
	"strings"
	"testing"
)

func TestTracker(t *testing.T) {
	// Results: '+' pass, '-' fail. Health after each: 'U' healthy, 'D' not;
	// an uppercase-in-changes '!' marks where Observe reported a change.
	tests := []struct {
		name       string
		rise, fall int
		initial    InitialState
		results    string
		health     string
		changes    string
	}{
		{"down: first pass is enough", 2, 3, StartDown, "+++", "UUU", "!.."},
		{"down: first fail then rise", 2, 3, StartDown, "-+++", "DDUU", "..!."},
		{"down: fall then rise", 2, 3, StartDown, "+---++", "UUUDDU", "!..!.!"},
		{"down: flapping never falls", 2, 2, StartDown, "+-+-+-", "UUUUUU", "!....."},
		{"up: stays until fall", 2, 3, StartUp, "--+--", "UUUUU", "....."},
		{"up: falls after 3", 2, 3, StartUp, "---++", "UUDDU", "..!.!"},
		{"fully-down: needs rise", 3, 1, StartFullyDown, "++-+++", "DDDDDU", ".....!"},
		{"rise 1 fall 1", 1, 1, StartUp, "-+-+", "DUDU", "!!!!"},
		{"zero thresholds act as 1", 0, 0, StartUp, "-+", "DU", "!!"},
		{"unknown: first down is a change", 1, 3, StartUnknown, "---+", "DDDU", "..!!"},
		{"unknown: first up is a change", 2, 3, StartUnknown, "+-++--", "DDDUUU", "...!.."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.rise, tt.fall, tt.initial)
			if got, want := tr.Healthy(), tt.initial == StartUp; got != want {
				t.Fatalf("initial Healthy() = %v, want %v", got, want)
			}
			if tr.Reason() != "not checked yet" {
				t.Errorf("initial Reason() = %q, want %q", tr.Reason(), "not checked yet")
			}
			var health, changes strings.Builder
			for _, r := range tt.results {
				var err error
				if r == '-' {
					err = errors.New("connect 127.0.0.1:80: connection refused")
				}
				ch := tr.Observe(err)
				health.WriteByte(map[bool]byte{true: 'U', false: 'D'}[tr.Healthy()])
				changes.WriteByte(map[bool]byte{true: '!', false: '.'}[ch])
			}
			if health.String() != tt.health || changes.String() != tt.changes {
				t.Errorf("Observe(%s) health, changes = %s %s, want %s %s", tt.results, health.String(), changes.String(), tt.health, tt.changes)
			}
		})
	}
}

func TestTrackerReason(t *testing.T) {
	tr := NewTracker(2, 2, StartUp)
	tr.Observe(errors.New("negotiate: status 503, want 200"))
	if !tr.Healthy() || tr.Reason() != "negotiate: status 503, want 200" {
		t.Errorf("after one failure: Healthy, Reason = %v %q, want true and the failure", tr.Healthy(), tr.Reason())
	}
	tr.Observe(nil)
	if tr.Reason() != "" {
		t.Errorf("Reason() after a pass = %q, want empty", tr.Reason())
	}
	tr.SetThresholds(1, 1)
	if tr.Observe(errors.New("x")); tr.Healthy() {
		t.Errorf("after SetThresholds(1, 1) and a failure, Healthy() = true, want false")
	}
}
