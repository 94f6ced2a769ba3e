package schedule_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/schedule"
	"github.com/tuyenquang/lgsp/bus/store"
)

// memLeases is an in-memory LeaseStore.
type memLeases struct {
	mu     sync.Mutex
	holder map[string]string
	until  map[string]time.Time
	last   map[string]time.Time
}

func newMemLeases() *memLeases {
	return &memLeases{holder: map[string]string{}, until: map[string]time.Time{}, last: map[string]time.Time{}}
}

func (m *memLeases) TryLease(_ context.Context, job, node string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.holder[job]; h != "" && h != node && m.until[job].After(time.Now()) {
		return false, nil
	}
	m.holder[job], m.until[job] = node, until
	return true, nil
}

func (m *memLeases) ReleaseLease(_ context.Context, job, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holder[job] == node {
		m.holder[job] = ""
	}
	return nil
}

func (m *memLeases) LastRun(_ context.Context, job string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last[job], nil
}

func (m *memLeases) SetLastRun(_ context.Context, job string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last[job] = at
	return nil
}

func stopRunner(t *testing.T, r *schedule.Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// TestDurableCatchUpOnce: the node was down over three 02:00 firings; at
// start the job runs once, and a second start runs nothing.
func TestDurableCatchUpOnce(t *testing.T) {
	leases := newMemLeases()
	hcm := schedule.Location
	clock := time.Date(2026, 1, 4, 12, 0, 0, 0, hcm)
	leases.last["daily"] = time.Date(2026, 1, 1, 2, 0, 0, 5e6, hcm)
	leases.last["fresh"] = time.Date(2026, 1, 4, 2, 0, 0, 0, hcm) // ran at today's firing
	r := schedule.NewRunner(nil)
	defer stopRunner(t, r)
	d := schedule.NewDurable(r, leases, "node-a", nil)
	d.Now = func() time.Time { return clock }
	var daily, fresh, never atomic.Int32
	for name, n := range map[string]*atomic.Int32{"daily": &daily, "fresh": &fresh, "never": &never} {
		if err := d.Add(name, "0 2 * * *", func(context.Context) { n.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	ran, err := d.CatchUp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || ran[0] != "daily" || daily.Load() != 1 || fresh.Load() != 0 || never.Load() != 0 {
		t.Fatalf("catch-up ran %v (daily %d, fresh %d, never %d), want daily once", ran, daily.Load(), fresh.Load(), never.Load())
	}
	if got := leases.last["daily"]; !got.Equal(clock) {
		t.Fatalf("last run = %v, want %v", got, clock)
	}
	// A restart an hour later: nothing was missed since.
	clock = clock.Add(time.Hour)
	if ran, err := d.CatchUp(t.Context()); err != nil || len(ran) != 0 {
		t.Fatalf("second catch-up ran %v (%v), want nothing", ran, err)
	}
	// The next day after 02:00 the firing was missed again: once more.
	clock = time.Date(2026, 1, 5, 9, 0, 0, 0, hcm)
	if ran, _ := d.CatchUp(t.Context()); len(ran) != 2 {
		t.Fatalf("catch-up the next day ran %v, want daily and fresh", ran)
	}
}

// TestDurablePanicDoesNotStopLaterRuns: a panicking run is recovered and
// recorded, and the job fires again.
func TestDurablePanicDoesNotStopLaterRuns(t *testing.T) {
	t.Parallel()
	leases := newMemLeases()
	r := schedule.NewRunner(nil)
	d := schedule.NewDurable(r, leases, "node-a", nil)
	runs := make(chan int32, 10)
	var n atomic.Int32
	if err := d.Add("panicky", "@every 1s", func(context.Context) {
		i := n.Add(1)
		runs <- i
		if i <= 2 {
			panic("boom")
		}
	}); err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer stopRunner(t, r)
	deadline := time.After(10 * time.Second)
	for got := 0; got < 3; got++ {
		select {
		case <-runs:
		case <-deadline:
			t.Fatalf("only %d runs; a panic stopped the job", got)
		}
	}
	if last, _ := leases.LastRun(t.Context(), "panicky"); last.IsZero() {
		t.Fatal("a panicking run was not recorded as a run")
	}
}

// TestDurableTwoNodesOneRun: two nodes schedule the same job on the same
// database (SQLite store); each firing runs on one node only.
func TestDurableTwoNodesOneRun(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Concurrent manual runs: exactly one gets the lease.
	var manual atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	nodes := make([]*schedule.Durable, 2)
	for i := range nodes {
		r := schedule.NewRunner(nil)
		defer stopRunner(t, r)
		nodes[i] = schedule.NewDurable(r, st, []string{"node-a", "node-b"}[i], nil)
		if err := nodes[i].Add("manual", "@every 1h", func(context.Context) { manual.Add(1); started <- struct{}{}; <-release }); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	ranCh := make(chan bool, 2)
	for _, d := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := d.RunNow(t.Context(), "manual")
			if err != nil {
				t.Error(err)
			}
			ranCh <- ok
		}()
	}
	// One node runs the job and holds it; the other must give up at once,
	// while the job is still running.
	wait := func(what string, c <-chan struct{}) {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not happen within 10 s", what)
		}
	}
	wait("a run starting", started)
	ran := 0
	select {
	case ok := <-ranCh:
		if ok {
			t.Fatal("the second node ran the job while the first held it")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second node did not give up within 10 s")
	}
	close(release)
	wg.Wait()
	close(ranCh)
	for ok := range ranCh {
		if ok {
			ran++
		}
	}
	if ran != 1 || manual.Load() != 1 {
		t.Fatalf("%d nodes ran the job (%d runs), want 1", ran, manual.Load())
	}

	// Scheduled runs on two runners firing at the same seconds.
	var mu sync.Mutex
	var times []time.Time
	var byNode [2]atomic.Int32
	tick := make(chan struct{}, 64)
	runners := make([]*schedule.Runner, 2)
	for i := range runners {
		runners[i] = schedule.NewRunner(nil)
		d := schedule.NewDurable(runners[i], st, []string{"node-a", "node-b"}[i], nil)
		if err := d.Add("tick", "@every 1s", func(context.Context) {
			byNode[i].Add(1)
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			time.Sleep(100 * time.Millisecond) // the job's own work, not synchronisation
			tick <- struct{}{}
		}); err != nil {
			t.Fatal(err)
		}
	}
	runners[0].Start()
	runners[1].Start()
	for range 3 { // three firings, whichever node ran each
		wait("a scheduled run", tick)
	}
	stopRunner(t, runners[0])
	stopRunner(t, runners[1])
	mu.Lock()
	defer mu.Unlock()
	if len(times) < 2 {
		t.Fatalf("%d runs, want at least 2", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 500*time.Millisecond {
			t.Fatalf("two runs %v apart: one firing ran on both nodes (runs per node %d/%d)", gap, byNode[0].Load(), byNode[1].Load())
		}
	}
}
