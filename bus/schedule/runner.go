package schedule

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
)

// Runner runs named periodic jobs. Runs of one job never overlap (a run
// that is due while the previous one still works is skipped), a panic in a
// job is recovered and logged and the job runs again at its next time, and
// every job receives a context that is cancelled when Stop is called.
//
// A Runner is started once and stopped once; it cannot be restarted.
type Runner struct {
	log    logrus.FieldLogger
	cron   *cron.Cron
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	names   map[string]bool
	stopped bool
}

// NewRunner returns a runner that logs to log (nil discards). Its jobs run
// in Location.
func NewRunner(log logrus.FieldLogger) *Runner {
	if log == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		log = l
	}
	cl := cronLogger{log.WithField("component", "schedule")}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{
		log: log,
		// Recover must be the inner wrapper: cron v3.0.1's SkipIfStillRunning
		// releases its slot without defer, so with Recover outside it a
		// single panic would skip the job forever
		// (fixed upstream after the last tag, robfig/cron PR #367).
		cron: cron.New(
			cron.WithLocation(Location),
			cron.WithParser(parser),
			cron.WithLogger(cl),
			cron.WithChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)),
		),
		ctx:    ctx,
		cancel: cancel,
		names:  map[string]bool{},
	}
}

// Add schedules job under a unique name; spec is read by Parse. Jobs may be
// added before or after Start, not after Stop.
func (r *Runner) Add(name, spec string, job func(ctx context.Context)) error {
	if name == "" {
		return errors.New("adding job: empty name")
	}
	if job == nil {
		return fmt.Errorf("adding job %s: nil function", name)
	}
	s, err := Parse(spec)
	if err != nil {
		return fmt.Errorf("adding job %s: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return fmt.Errorf("adding job %s: runner is stopped", name)
	}
	if r.names[name] {
		return fmt.Errorf("adding job %s: a job with this name already exists", name)
	}
	r.names[name] = true
	log := r.log.WithField("job", name)
	r.cron.Schedule(s, cron.FuncJob(func() {
		// Log the panic with the job's name; cron.Recover in the chain is
		// the safety net for anything that escapes this.
		defer func() {
			if p := recover(); p != nil {
				log.WithField("stack", string(debug.Stack())).Errorf("job panicked: %v", p)
			}
		}()
		if r.ctx.Err() != nil {
			return
		}
		job(r.ctx)
	}))
	return nil
}

// Start starts running jobs in the background. It does nothing after Stop.
func (r *Runner) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.cron.Start()
}

// Stop stops scheduling new runs, cancels the jobs' context and waits for
// running jobs to return, or for ctx to be done, in which case it returns an
// error wrapping ctx.Err(). Calling Stop again waits again.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.cancel()
	done := r.cron.Stop()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping scheduled jobs: some are still running: %w", ctx.Err())
	}
}

// cronLogger adapts logrus to cron.Logger. The library's Info messages
// (start, run, skip …) are logged at debug level; errors at error level.
type cronLogger struct{ l logrus.FieldLogger }

var _ cron.Logger = cronLogger{}

func (c cronLogger) Info(msg string, kv ...any) {
	c.l.WithFields(fields(kv)).Debug("cron: " + msg)
}

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.WithFields(fields(kv)).WithError(err).Error("cron: " + msg)
}

func fields(kv []any) logrus.Fields {
	f := logrus.Fields{}
	for i := 0; i < len(kv); i += 2 {
		if i+1 == len(kv) {
			f["extra"] = kv[i]
			break
		}
		f[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return f
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
