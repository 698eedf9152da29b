package vip

import (
	"strings"
	"testing"
	"time"
)

func TestScheduleDue(t *testing.T) {
	ms := time.Millisecond
	def := DefaultSchedule // 5 x 200ms, second burst of 5 at 5s
	refresh := def
	refresh.Refresh = 10 * time.Second
	none := time.Duration(-1)
	tests := []struct {
		name    string
		s       Schedule
		elapsed time.Duration
		sent    int
		due     int
		next    time.Duration // -1: no more
	}{
		{"takeover sends at once", def, 0, 0, 1, 200 * ms},
		{"nothing until the next interval", def, 199 * ms, 1, 0, 200 * ms},
		{"late wake counts both missed", def, 450 * ms, 1, 2, 600 * ms},
		{"gap before second burst", def, time.Second, 5, 0, 5 * time.Second},
		{"second burst", def, 5 * time.Second, 5, 1, 5200 * ms},
		{"end of bursts, no refresh", def, 5800 * ms, 9, 1, none},
		{"long stall covers all", def, 10 * time.Second, 1, 9, none},
		{"all sent", def, time.Hour, 10, 0, none},
		{"refresh after bursts", refresh, 15800 * ms, 10, 1, 25800 * ms},
		{"refresh stall skips periods", refresh, 100 * time.Second, 10, 9, 105800 * ms},
		{"refresh from a stall in burst", refresh, 16 * time.Second, 1, 10, 25800 * ms},
		{"one burst only", Schedule{Count: 3, Interval: ms}.WithDefaults(), 2 * ms, 0, 3, none},
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Validate(); err != nil {
				t.Fatal(err)
			}
			due, next, more := tt.s.Due(t0, t0.Add(tt.elapsed), tt.sent)
			wantMore := tt.next >= 0
			if due != tt.due || more != wantMore || (more && next.Sub(t0) != tt.next) {
				t.Errorf("Due(t0, t0+%v, %d) = %d, t0+%v, %v; want %d, t0+%v, %v",
					tt.elapsed, tt.sent, due, next.Sub(t0), more, tt.due, tt.next, wantMore)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	tests := []struct {
		s    Schedule
		want string // "" = valid
	}{
		{DefaultSchedule, ""},
		{Schedule{Interval: time.Second}, "count: 0 is out of range 1..100"},
		{Schedule{Count: 101, SecondCount: 1}, "count: 101 is out of range 1..100: more per burst floods the LAN"},
		{Schedule{Count: 1, Interval: -time.Second}, "interval: -1s: must not be negative"},
		{Schedule{Count: 1, Refresh: time.Millisecond}, "refresh: 1ms: must be 0 (off) or at least 100ms"},
		{Schedule{Count: 1, SecondDelay: -time.Second}, "second_burst: -1s: must not be negative"},
		{Schedule{Count: 3, Interval: time.Second, SecondDelay: 2 * time.Second, SecondCount: 1}, "second_burst: 2s must be after the first burst ends (2s)"},
	}
	for _, tt := range tests {
		err := tt.s.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%+v.Validate() = %v, want nil", tt.s, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v.Validate() = %v, want it to contain %q", tt.s, err, tt.want)
		}
	}
}
