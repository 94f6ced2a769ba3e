package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// OrganStore is what SpeaksFor needs from the store; store.Store satisfies
// it.
type OrganStore interface {
	AddSystemOrgan(ctx context.Context, o store.SystemOrgan, events ...store.KeyEvent) (store.SystemOrgan, bool, error)
	RemoveSystemOrgan(ctx context.Context, system, organ string, events ...store.KeyEvent) error
	ListSystemOrgans(ctx context.Context, system string) ([]store.SystemOrgan, error)
}

// SpeaksFor binds the organ codes inside packets to the caller (R6,
// Art. 5): a system may name as sender (From/OrganId) its own identifier
// code and the organs listed for it here — a QLVB server that serves
// several units, a gateway acting for others — and nothing else (deny by
// default). Every change is audited in the key record (who, when).
//
// Checks read the store each time a packet names an organ other than the
// caller's own code (one indexed query), so a change made on any node or
// with the CLI applies to the next packet everywhere; a packet naming the
// caller's own code costs nothing.
type SpeaksFor struct {
	Store OrganStore
	Now   func() time.Time
}

func (s *SpeaksFor) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Add lists organ for system (bus.ErrInvalidCode, bus.ErrSystemNotFound),
// recording the actor of ctx. Adding a listed pair returns the row in
// force and records nothing.
func (s *SpeaksFor) Add(ctx context.Context, system, organ string) (store.SystemOrgan, error) {
	system, organ = strings.TrimSpace(system), strings.TrimSpace(organ)
	if err := checkOrganPair(system, organ); err != nil {
		return store.SystemOrgan{}, err
	}
	now := s.now().UTC()
	o := store.SystemOrgan{System: system, Organ: organ, CreatedAt: now, CreatedBy: ActorOf(ctx)}
	ev := store.KeyEvent{At: now, System: system, Action: store.KeyEventSpeaksForAdded, Actor: o.CreatedBy, Detail: "organ " + organ}
	got, _, err := s.Store.AddSystemOrgan(ctx, o, ev)
	return got, err
}

// Remove unlists organ for system (bus.ErrSpeaksForNotFound), recording the
// actor of ctx; packets naming it are refused from then on.
func (s *SpeaksFor) Remove(ctx context.Context, system, organ string) error {
	system, organ = strings.TrimSpace(system), strings.TrimSpace(organ)
	if err := checkOrganPair(system, organ); err != nil {
		return err
	}
	ev := store.KeyEvent{At: s.now().UTC(), System: system, Action: store.KeyEventSpeaksForRemoved, Actor: ActorOf(ctx), Detail: "organ " + organ}
	return s.Store.RemoveSystemOrgan(ctx, system, organ, ev)
}

// List returns the organs listed for system ("" for every system).
func (s *SpeaksFor) List(ctx context.Context, system string) ([]store.SystemOrgan, error) {
	return s.Store.ListSystemOrgans(ctx, strings.TrimSpace(system))
}

// Check returns nil when system may name organ as the sender of a packet:
// its own code, or an organ listed for it. Otherwise it returns
// bus.ErrSenderMismatch naming both codes (an organ that is not a
// well-formed code is not echoed).
func (s *SpeaksFor) Check(ctx context.Context, system, organ string) error {
	organ = strings.TrimSpace(organ)
	if organ == system {
		return nil
	}
	if s != nil && s.Store != nil {
		list, err := s.Store.ListSystemOrgans(ctx, system)
		if err != nil {
			return storeFault(err, "reading the organs a system speaks for")
		}
		if slices.ContainsFunc(list, func(o store.SystemOrgan) bool { return o.Organ == organ }) {
			return nil
		}
	}
	return bus.ErrSenderMismatch.New("the packet names %s as its sender; %s may send only as itself or as an organ listed for it (lgsp systems speaks-for add --system %s --organ CODE)",
		bus.ShowCode(organ), system, system)
}

func checkOrganPair(system, organ string) error {
	if _, err := bus.ParseSystemCode(system); err != nil {
		return err
	}
	if _, err := bus.ParseSystemCode(organ); err != nil {
		return err
	}
	if organ == system {
		return bus.ErrInvalidCode.New("%s always speaks for itself: list other organs only", system)
	}
	return nil
}
