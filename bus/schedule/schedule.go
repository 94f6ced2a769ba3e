package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"

	_ "time/tzdata" // Asia/Ho_Chi_Minh must load on systems without /usr/share/zoneinfo
)

// Location is the zone in which specs without CRON_TZ= or TZ= are read.
var Location = mustLoad("Asia/Ho_Chi_Minh")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("schedule: loading time zone " + name + ": " + err.Error())
	}
	return loc
}

// parser accepts 5 fields, 6 fields (seconds first) and descriptors.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ErrNeverFires is returned (wrapped) by Parse for a spec that parses but
// has no firing time, such as "0 0 30 2 *".
var ErrNeverFires = errors.New("schedule never fires")

// horizon are the start times from which a spec must have a next firing
// time besides now: the library looks five years ahead from each, so
// together they cover the years 2026 to 2046 whatever the clock says.
var horizon = []time.Time{
	time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2041, 1, 1, 0, 0, 0, 0, time.UTC),
}

// Parse reads a cron spec: "0 2 * * *", "*/30 * * * * *", "@daily",
// "@every 90s" or any of these after "CRON_TZ=<IANA zone> ". Specs without a
// zone are read in Location. Errors are lowercase, name the spec and say
// what is wrong; Parse never panics.
func Parse(spec string) (s cron.Schedule, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("invalid schedule %q: malformed spec (%v)", spec, p)
		}
	}()
	rest := strings.TrimSpace(spec)
	if rest == "" {
		return nil, errors.New("empty schedule")
	}
	loc := Location
	if zone, body, ok := cutZone(rest); ok {
		if zone == "" {
			return nil, fmt.Errorf("invalid schedule %q: empty time zone", spec)
		}
		if zone == "Local" {
			return nil, fmt.Errorf("invalid schedule %q: time zone Local depends on the host; name an IANA zone such as Asia/Ho_Chi_Minh", spec)
		}
		if body == "" {
			return nil, fmt.Errorf("invalid schedule %q: time zone %s is not followed by a schedule", spec, zone)
		}
		if _, _, again := cutZone(body); again {
			return nil, fmt.Errorf("invalid schedule %q: time zone given twice", spec)
		}
		if loc, err = time.LoadLocation(zone); err != nil {
			return nil, fmt.Errorf("invalid schedule %q: unknown time zone %q", spec, zone)
		}
		rest = body
	}
	if iv, ok := strings.CutPrefix(rest, "@every "); ok {
		// The library silently turns intervals under a second (even
		// negative ones) into one second; say so instead.
		if d, err := time.ParseDuration(strings.TrimSpace(iv)); err == nil && d < time.Second {
			return nil, fmt.Errorf("invalid schedule %q: interval %s is shorter than 1s", spec, d)
		}
	}
	s, err = parser.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %s", spec, lowerFirst(err.Error()))
	}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	for _, from := range append([]time.Time{time.Now()}, horizon...) {
		if s.Next(from).IsZero() {
			return nil, fmt.Errorf("invalid schedule %q: %w (no matching date, e.g. 30 February)", spec, ErrNeverFires)
		}
	}
	return s, nil
}

// cutZone splits "CRON_TZ=zone rest" or "TZ=zone rest" at the first white
// space; ok reports whether spec starts with such a prefix.
func cutZone(spec string) (zone, rest string, ok bool) {
	var after string
	switch {
	case strings.HasPrefix(spec, "CRON_TZ="):
		after = spec[len("CRON_TZ="):]
	case strings.HasPrefix(spec, "TZ="):
		after = spec[len("TZ="):]
	default:
		return "", spec, false
	}
	i := strings.IndexFunc(after, unicode.IsSpace)
	if i < 0 {
		return after, "", true
	}
	return after[:i], strings.TrimSpace(after[i:]), true
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
