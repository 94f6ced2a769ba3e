package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// organTests cover store.OrganStore: the organs a system may speak for.
var organTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"SystemOrgans", testSystemOrgans},
	{"SystemOrganConcurrent", testSystemOrganConcurrent},
}

func runOrgans(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range organTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testSystemOrgans(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateSystem(ctx, store.System{Code: src, Name: "QLVB"}), "creating system")
	ok(t, s.CreateSystem(ctx, store.System{Code: dstA, Name: "b"}), "creating system")

	// Deny by default: nothing is listed.
	list, err := s.ListSystemOrgans(ctx, "")
	ok(t, err, "listing organs")
	check(t, "organs at start", len(list), 0)

	ev := func(action, organ string, d time.Duration) store.KeyEvent {
		return store.KeyEvent{At: at(d), System: src, Action: action, Actor: "cli:test", Detail: "organ " + organ}
	}
	o1 := store.SystemOrgan{System: src, Organ: "000.01.01.H60", CreatedAt: at(time.Minute), CreatedBy: "cli:test"}
	got, added, err := s.AddSystemOrgan(ctx, o1, ev(store.KeyEventSpeaksForAdded, o1.Organ, time.Minute))
	ok(t, err, "adding organ")
	if !added {
		t.Fatal("the first add reported the pair as listed already")
	}
	o1.CreatedAt = us(o1.CreatedAt)
	check(t, "added organ", got, o1)
	o2 := store.SystemOrgan{System: src, Organ: "000.01.02.H60", CreatedAt: at(2 * time.Minute), CreatedBy: "admin-api"}
	_, _, err = s.AddSystemOrgan(ctx, o2, ev(store.KeyEventSpeaksForAdded, o2.Organ, 2*time.Minute))
	ok(t, err, "adding organ")
	o2.CreatedAt = us(o2.CreatedAt)
	o3 := store.SystemOrgan{System: dstA, Organ: "000.01.01.H60", CreatedAt: at(3 * time.Minute), CreatedBy: "cli:x"}
	_, _, err = s.AddSystemOrgan(ctx, o3)
	ok(t, err, "adding organ of another system")
	o3.CreatedAt = us(o3.CreatedAt)

	// Adding a listed pair again changes nothing and records nothing.
	again, added, err := s.AddSystemOrgan(ctx, store.SystemOrgan{System: src, Organ: o1.Organ, CreatedAt: at(time.Hour), CreatedBy: "other"},
		ev(store.KeyEventSpeaksForAdded, o1.Organ, time.Hour))
	ok(t, err, "adding a listed organ")
	if added {
		t.Fatal("adding a listed pair reported it as added")
	}
	check(t, "organ in force", again, o1)

	list, err = s.ListSystemOrgans(ctx, src)
	ok(t, err, "listing organs of a system")
	check(t, "organs of src", list, []store.SystemOrgan{o1, o2})
	list, err = s.ListSystemOrgans(ctx, "")
	ok(t, err, "listing all organs")
	check(t, "all organs", list, []store.SystemOrgan{o1, o2, o3})

	_, _, err = s.AddSystemOrgan(ctx, store.SystemOrgan{System: "000.00.99.H60", Organ: "000.01.01.H60"}, ev(store.KeyEventSpeaksForAdded, "x", 0))
	isCode(t, err, bus.ErrSystemNotFound, "organ of a missing system")

	ok(t, s.RemoveSystemOrgan(ctx, src, o1.Organ, ev(store.KeyEventSpeaksForRemoved, o1.Organ, 4*time.Minute)), "removing organ")
	isCode(t, s.RemoveSystemOrgan(ctx, src, o1.Organ, ev(store.KeyEventSpeaksForRemoved, o1.Organ, 5*time.Minute)), bus.ErrSpeaksForNotFound, "removing it again")
	list, err = s.ListSystemOrgans(ctx, src)
	ok(t, err, "listing organs after removal")
	check(t, "organs after removal", list, []store.SystemOrgan{o2})

	// The audit record holds what changed, and only that.
	evs, err := s.KeyEvents(ctx, src, 0)
	ok(t, err, "reading key events")
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+" "+e.Detail+" "+e.Actor)
	}
	check(t, "audit", actions, []string{
		"speaks_for_added organ 000.01.01.H60 cli:test",
		"speaks_for_added organ 000.01.02.H60 cli:test",
		"speaks_for_removed organ 000.01.01.H60 cli:test",
	})
}

// testSystemOrganConcurrent: several nodes adding the same pair at once
// list it once, and exactly one of them reports it added (and audits it).
func testSystemOrganConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateSystem(ctx, store.System{Code: src, Name: "QLVB"}), "creating system")
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	adds := 0
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, added, err := s.AddSystemOrgan(ctx, store.SystemOrgan{System: src, Organ: "000.01.01.H60", CreatedAt: at(time.Duration(i) * time.Second)},
				store.KeyEvent{System: src, Action: store.KeyEventSpeaksForAdded, Detail: "organ 000.01.01.H60"})
			if err != nil {
				errs <- err
				return
			}
			if added {
				mu.Lock()
				adds++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent add: %v", err)
	}
	check(t, "adds", adds, 1)
	list, err := s.ListSystemOrgans(ctx, src)
	ok(t, err, "listing organs")
	check(t, "rows", len(list), 1)
	evs, err := s.KeyEvents(ctx, src, 0)
	ok(t, err, "reading key events")
	check(t, "audit rows", len(evs), 1)
}
