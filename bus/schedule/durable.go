package schedule

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
)

// LeaseStore is what Durable keeps in the shared database
// (store.GatewayStore implements it): a lease per job so that one node runs
// it, and the time of its last run.
type LeaseStore interface {
	// TryLease gives job to node until `until` unless another node holds
	// an unexpired lease; it reports whether node holds it now.
	TryLease(ctx context.Context, job, node string, until time.Time) (bool, error)
	// ReleaseLease ends node's lease of job.
	ReleaseLease(ctx context.Context, job, node string) error
	// LastRun returns when job last ran (zero if never).
	LastRun(ctx context.Context, job string) (time.Time, error)
	// SetLastRun records that job ran at at.
	SetLastRun(ctx context.Context, job string, at time.Time) error
}

// DefaultLease is how long a node holds a job's lease while it runs it
// when Durable.LeaseFor is zero. A run that takes longer may overlap with
// a run of another node.
const DefaultLease = 10 * time.Minute

// Durable runs jobs of a Runner on one node of a cluster and remembers
// their runs in a LeaseStore:
//
//   - each run takes the job's lease first (TryLease); a node that does not
//     get it skips the run, so with several nodes each firing runs once;
//   - a run is also skipped when the store says the job already ran for
//     the current firing time (another node whose clock is a little ahead
//     ran it: Next(lastRun) is still in the future);
//   - CatchUp, called at start, runs once every job whose firing time
//     passed while no node was running (Next(lastRun) < now): after a
//     downtime a missed schedule fires once, not once per missed time;
//   - runs of one job on one node never overlap, and a panicking run is
//     logged and the job runs again at its next time (as in Runner).
//
// The last run is recorded when a run ends (also after a panic), so a
// crash in the middle of a run makes the next start catch it up.
type Durable struct {
	r     *Runner
	store LeaseStore
	node  string
	log   logrus.FieldLogger

	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// LeaseFor is how long a run holds the job's lease (DefaultLease if 0).
	LeaseFor time.Duration

	mu   sync.Mutex
	jobs map[string]*durableJob
}

type durableJob struct {
	name  string
	sched cron.Schedule
	fn    func(ctx context.Context)
	busy  sync.Mutex // one run at a time on this node (CatchUp, RunNow and ticks)
}

// NewDurable returns a Durable that schedules on r and keeps leases and
// last runs in s under the name node (unique per node). log may be nil.
func NewDurable(r *Runner, s LeaseStore, node string, log logrus.FieldLogger) *Durable {
	if log == nil {
		log = r.log
	}
	return &Durable{r: r, store: s, node: node, log: log.WithField("component", "schedule"), Now: time.Now, jobs: map[string]*durableJob{}}
}

// Add schedules job under name (unique in the store: all nodes use the
// same name for the same job); spec is read by Parse.
func (d *Durable) Add(name, spec string, job func(ctx context.Context)) error {
	if job == nil {
		return fmt.Errorf("adding job %s: nil function", name)
	}
	s, err := Parse(spec)
	if err != nil {
		return fmt.Errorf("adding job %s: %w", name, err)
	}
	j := &durableJob{name: name, sched: s, fn: job}
	d.mu.Lock()
	if _, dup := d.jobs[name]; dup {
		d.mu.Unlock()
		return fmt.Errorf("adding job %s: a job with this name already exists", name)
	}
	d.jobs[name] = j
	d.mu.Unlock()
	return d.r.Add(name, spec, func(ctx context.Context) {
		if _, err := d.run(ctx, j, true); err != nil {
			d.log.WithError(err).WithField("job", name).Error("scheduled job not run")
		}
	})
}

func (d *Durable) job(name string) (*durableJob, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	j, ok := d.jobs[name]
	if !ok {
		return nil, fmt.Errorf("no job %s", name)
	}
	return j, nil
}

// RunNow runs job name once now if this node gets its lease (the firing
// time is not checked). It reports whether the job ran.
func (d *Durable) RunNow(ctx context.Context, name string) (bool, error) {
	j, err := d.job(name)
	if err != nil {
		return false, err
	}
	return d.run(ctx, j, false)
}

// CatchUp runs, one after the other, each job whose last run is known and
// whose next firing time after it has passed (Next(lastRun) < now): runs
// missed during a downtime. Each such job runs once. It returns the names
// of the jobs that ran.
func (d *Durable) CatchUp(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	jobs := make([]*durableJob, 0, len(d.jobs))
	for _, j := range d.jobs {
		jobs = append(jobs, j)
	}
	d.mu.Unlock()
	var ran []string
	var errs []error
	for _, j := range jobs {
		last, err := d.store.LastRun(ctx, j.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if last.IsZero() || !j.sched.Next(last).Before(d.Now()) {
			continue
		}
		d.log.WithField("job", j.name).WithField("last_run", last.Format(time.RFC3339)).Info("running a job missed while no node ran it")
		ok, err := d.run(ctx, j, true)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			ran = append(ran, j.name)
		}
	}
	return ran, errors.Join(errs...)
}

// run runs j once under its lease; checkSlot skips the run when the job
// already ran for the current firing time.
func (d *Durable) run(ctx context.Context, j *durableJob, checkSlot bool) (bool, error) {
	if !j.busy.TryLock() {
		return false, nil // still running on this node
	}
	defer j.busy.Unlock()
	now := d.Now()
	lease := d.LeaseFor
	if lease <= 0 {
		lease = DefaultLease
	}
	got, err := d.store.TryLease(ctx, j.name, d.node, now.Add(lease))
	if err != nil {
		return false, fmt.Errorf("leasing job %s: %w", j.name, err)
	}
	if !got {
		d.log.WithField("job", j.name).Debug("job is leased by another node; run skipped")
		return false, nil
	}
	defer func() {
		// Another node may take the next firing at once; the slot check
		// keeps it from repeating this one.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := d.store.ReleaseLease(rctx, j.name, d.node); err != nil {
			d.log.WithError(err).WithField("job", j.name).Warn("releasing job lease")
		}
	}()
	if checkSlot {
		last, err := d.store.LastRun(ctx, j.name)
		if err != nil {
			return false, fmt.Errorf("reading last run of job %s: %w", j.name, err)
		}
		if !last.IsZero() && j.sched.Next(last).After(now) {
			d.log.WithField("job", j.name).Debug("job already ran for this firing time; run skipped")
			return false, nil
		}
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				d.log.WithField("job", j.name).WithField("stack", string(debug.Stack())).Errorf("job panicked: %v", p)
			}
		}()
		j.fn(ctx)
	}()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.store.SetLastRun(rctx, j.name, now); err != nil {
		return true, fmt.Errorf("recording last run of job %s: %w", j.name, err)
	}
	return true, nil
}
