package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		wantErr string // substring; "" = valid
	}{
		{"five fields", "0 2 * * *", ""},
		{"five fields with lists", "0 7,13 * * 1-5", ""},
		{"six fields with seconds", "*/5 * * * * *", ""},
		{"descriptor daily", "@daily", ""},
		{"descriptor hourly", "@hourly", ""},
		{"every 90s", "@every 90s", ""},
		{"surrounding space", "  0 2 * * *  ", ""},
		{"cron tz override", "CRON_TZ=UTC 0 2 * * *", ""},
		{"tz override", "TZ=Asia/Saigon 0 2 * * *", ""},
		{"tz with descriptor", "CRON_TZ=UTC @daily", ""},
		{"leap day fires", "0 0 29 2 *", ""},
		{"empty", "", "empty schedule"},
		{"blank", "   ", "empty schedule"},
		{"zone without fields (panics in cron)", "CRON_TZ=Asia/Ho_Chi_Minh", "is not followed by a schedule"},
		{"tz=0 (panics in cron)", "TZ=0", "is not followed by a schedule"},
		{"empty zone", "TZ= 0 2 * * *", "empty time zone"},
		{"unknown zone", "CRON_TZ=Mars/Olympus 0 2 * * *", `unknown time zone "Mars/Olympus"`},
		{"local zone", "TZ=Local 0 2 * * *", "depends on the host"},
		{"zone twice", "TZ=UTC TZ=UTC 0 2 * * *", "time zone given twice"},
		{"impossible date", "0 0 30 2 *", "never fires"},
		{"impossible date with seconds", "0 0 0 31 4 *", "never fires"},
		{"garbage", "every day at noon", "invalid schedule"},
		{"too many fields", "0 0 0 0 0 0 0", "invalid schedule"},
		{"out of range", "0 25 * * *", "invalid schedule"},
		{"bad descriptor", "@fortnightly", "invalid schedule"},
		{"bad every", "@every soon", "invalid schedule"},
		{"every under a second", "@every 500ms", "shorter than 1s"},
		{"every negative", "@every -5s", "shorter than 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse(%q): %v", tt.spec, err)
				}
				if s.Next(time.Now()).IsZero() {
					t.Fatalf("Parse(%q): schedule never fires", tt.spec)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tt.spec, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) error %q does not contain %q", tt.spec, err, tt.wantErr)
			}
			if msg := err.Error(); msg[0] >= 'A' && msg[0] <= 'Z' {
				t.Errorf("error %q is not lowercase", msg)
			}
		})
	}
}

func TestParseNeverFiresIsSentinel(t *testing.T) {
	_, err := Parse("0 0 30 2 *")
	if !errors.Is(err, ErrNeverFires) {
		t.Fatalf("error %v is not ErrNeverFires", err)
	}
}

func TestDefaultZoneIsHoChiMinh(t *testing.T) {
	s, err := Parse("0 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	// 02:00 in Hanoi (UTC+7) is 19:00 UTC on the previous day.
	from := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	got := s.Next(from)
	want := time.Date(2026, 11, 26, 19, 0, 0, 0, time.UTC)
	if !got.Equal(want) {
		t.Fatalf("Next(%v) = %v, want %v", from, got.UTC(), want)
	}
	if local := got.In(Location); local.Day() != 27 || local.Hour() != 2 {
		t.Fatalf("firing time in Hanoi = %v, want 27th at 02:00", local)
	}
}

func TestZoneOverride(t *testing.T) {
	s, err := Parse("CRON_TZ=UTC 0 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if got, want := s.Next(from), time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Next = %v, want %v", got, want)
	}
}

func TestDescriptorInDefaultZone(t *testing.T) {
	s, err := Parse("@daily")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if got, want := s.Next(from), time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Next = %v, want %v (midnight in Hanoi)", got, want)
	}
}

func TestEvery(t *testing.T) {
	s, err := Parse("@every 90s")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := s.(cron.ConstantDelaySchedule); !ok || d.Delay != 90*time.Second {
		t.Fatalf("got %#v, want a constant delay of 90s", s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "@every 1s", "CRON_TZ=Asia/Ho_Chi_Minh", "TZ=0", "0 0 30 2 *", "TZ=UTC\t0 2 * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err == nil && s.Next(time.Now()).IsZero() {
			t.Fatalf("Parse(%q) accepted a schedule that never fires", spec)
		}
	})
}
