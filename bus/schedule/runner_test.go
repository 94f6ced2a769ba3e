package schedule

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// wait is how long a test waits for something that should happen within a
// couple of one-second ticks.
const wait = 10 * time.Second

// chanHook forwards every log entry's message to a channel without blocking.
type chanHook struct{ ch chan *logrus.Entry }

func (h chanHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h chanHook) Fire(e *logrus.Entry) error {
	select {
	case h.ch <- e:
	default:
	}
	return nil
}

func testLogger() (*logrus.Logger, chan *logrus.Entry) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.DebugLevel)
	ch := make(chan *logrus.Entry, 1024)
	l.AddHook(chanHook{ch})
	return l, ch
}

func stop(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestRunnerPanicDoesNotStopLaterRuns(t *testing.T) {
	t.Parallel()
	log, entries := testLogger()
	r := NewRunner(log)
	runs := make(chan int, 10)
	var n atomic.Int32
	err := r.Add("panicky", "@every 1s", func(context.Context) {
		i := int(n.Add(1))
		runs <- i
		if i == 1 {
			panic("boom")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer stop(t, r)

	deadline := time.After(wait)
	var sawPanicLog bool
	for got := 0; got < 3; {
		select {
		case <-runs:
			got++
		case e := <-entries:
			if e.Level == logrus.ErrorLevel && strings.Contains(e.Message, "panicked: boom") && e.Data["job"] == "panicky" {
				sawPanicLog = true
			}
		case <-deadline:
			t.Fatalf("only %d runs within %v; a panic stopped the job", got, wait)
		}
	}
	for !sawPanicLog {
		select {
		case e := <-entries:
			sawPanicLog = e.Level == logrus.ErrorLevel && strings.Contains(e.Message, "panicked: boom")
		default:
			t.Fatal("the panic was not logged at error level with the job name")
		}
	}
}

func TestRunnerNoOverlap(t *testing.T) {
	t.Parallel()
	log, entries := testLogger()
	r := NewRunner(log)
	var inFlight, maxInFlight, n atomic.Int32
	started := make(chan int32, 10)
	release := make(chan struct{})
	err := r.Add("slow", "@every 1s", func(context.Context) {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
				break
			}
		}
		i := n.Add(1)
		started <- i
		if i == 1 {
			<-release // hold the first run across at least one tick
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer stop(t, r)

	deadline := time.After(wait)
	select {
	case <-started:
	case <-deadline:
		t.Fatal("first run did not start")
	}
	// The next tick finds the first run still working and must skip it.
	for skipped := false; !skipped; {
		select {
		case e := <-entries:
			skipped = e.Message == "cron: skip"
		case <-deadline:
			t.Fatal("no skipped run was logged while the first run was still working")
		}
	}
	close(release)
	select {
	case <-started:
	case <-deadline:
		t.Fatal("no run after the slow one finished")
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Fatalf("%d runs overlapped", m)
	}
}

func TestRunnerStopCancelsJobs(t *testing.T) {
	t.Parallel()
	r := NewRunner(nil)
	running := make(chan struct{}, 1)
	cancelled := make(chan struct{}, 1)
	err := r.Add("poller", "@every 1s", func(ctx context.Context) {
		running <- struct{}{}
		<-ctx.Done()
		cancelled <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	select {
	case <-running:
	case <-time.After(wait):
		t.Fatal("job did not run")
	}
	stop(t, r)
	select {
	case <-cancelled:
	default:
		t.Fatal("Stop returned before the job saw its context cancelled")
	}
	if err := r.Add("late", "@every 1s", func(context.Context) {}); err == nil {
		t.Fatal("Add after Stop succeeded")
	}
}

func TestRunnerStopTimesOut(t *testing.T) {
	t.Parallel()
	r := NewRunner(nil)
	running := make(chan struct{}, 1)
	release := make(chan struct{})
	err := r.Add("stubborn", "@every 1s", func(context.Context) {
		running <- struct{}{}
		<-release // ignores its context
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	select {
	case <-running:
	case <-time.After(wait):
		t.Fatal("job did not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want a deadline error", err)
	}
	close(release)
	stop(t, r)
}

func TestRunnerAddErrors(t *testing.T) {
	r := NewRunner(nil)
	job := func(context.Context) {}
	if err := r.Add("a", "@every 1m", job); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, spec, want string
		job              func(context.Context)
	}{
		{"a", "@every 1m", "already exists", job},
		{"", "@every 1m", "empty name", job},
		{"b", "0 0 30 2 *", "never fires", job},
		{"c", "TZ=0", "not followed by a schedule", job},
		{"d", "@every 1m", "nil function", nil},
	} {
		err := r.Add(tt.name, tt.spec, tt.job)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Add(%q, %q) = %v, want error containing %q", tt.name, tt.spec, err, tt.want)
		}
	}
}
