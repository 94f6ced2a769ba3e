package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestBatchFailureIsolation runs batches of group commit directly: every
// job that succeeds is committed, a job that fails leaves nothing (its
// first statement included), a job whose context ended leaves nothing and
// gets its context's error, and jobs run again after a failure are
// committed once.
func TestBatchFailureIsolation(t *testing.T) {
	st, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqliteStore).sqlStore
	at := time.Now()
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	runs := map[string]int{}
	job := func(id string, fail bool, ctx context.Context) *writeJob {
		return &writeJob{ctx: ctx, done: make(chan error, 1), fn: func(tx *txx) error {
			runs[id]++
			if err := insertEvents(context.Background(), tx, id, at, []Event{{Kind: "note", Actor: "t"}}); err != nil {
				return err
			}
			if fail {
				return fmt.Errorf("%s: %w", id, boom)
			}
			return nil
		}}
	}
	for _, tc := range []struct {
		name string
		jobs []*writeJob
		ids  []string
		want map[string]error // absent: committed
	}{
		{"all good", []*writeJob{job("a1", false, t.Context()), job("a2", false, t.Context()), job("a3", false, t.Context())}, []string{"a1", "a2", "a3"}, nil},
		{"one fails", []*writeJob{job("b1", false, t.Context()), job("b2", true, t.Context()), job("b3", false, t.Context())}, []string{"b1", "b2", "b3"},
			map[string]error{"b2": boom}},
		{"first fails, one cancelled", []*writeJob{job("c1", true, t.Context()), job("c2", false, cancelled), job("c3", false, t.Context())}, []string{"c1", "c2", "c3"},
			map[string]error{"c1": boom, "c2": context.Canceled}},
		{"cancelled before two failures", []*writeJob{job("d1", false, cancelled), job("d2", false, t.Context()), job("d3", true, t.Context()), job("d4", true, t.Context())},
			[]string{"d1", "d2", "d3", "d4"}, map[string]error{"d1": context.Canceled, "d3": boom, "d4": boom}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.batch.runBatch(tc.jobs)
			for i, j := range tc.jobs {
				id := tc.ids[i]
				got := <-j.done
				want := tc.want[id]
				if (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
					t.Errorf("%s: error %v, want %v", id, got, want)
				}
				evs, err := s.Events(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if want == nil && len(evs) != 1 {
					t.Errorf("%s succeeded with %d events stored, want 1", id, len(evs))
				}
				if want != nil && len(evs) != 0 {
					t.Errorf("%s failed (%v) but left %d events", id, got, len(evs))
				}
			}
		})
	}
	if runs["a1"] != 1 || runs["b1"] != 2 || runs["b3"] != 1 || runs["c2"] != 0 || runs["d2"] != 2 {
		t.Errorf("runs = %v: b1 and d2 run again after a failure, a1 and b3 once, c2 never", runs)
	}
}
