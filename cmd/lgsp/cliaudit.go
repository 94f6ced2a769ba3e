package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// cliAudit writes the admin actions made with the CLI to the activity log
// (issue 11, M5), as the admin API does for its own: the action, its
// target, the operator (cli:<user>@<host>) and the outcome, committed
// before the command reports success. Secrets are never written: entries
// hold codes, ids and access keys only.
//
// The CLI has a chain of its own, "cli-<host>", so that it never appends
// to a running node's chain (a node's writer keeps its chain head in
// memory). Its checkpoints are signed like a node's, with the chain's own
// Ed25519 key (platform key "activity:cli-<host>", private half sealed by
// the master key, which the CLI opens through the vault as the node does).
// Each command signs the head after its entries, so a CLI chain is always
// fully covered by a checkpoint. Two commands run at the same moment on one
// host race for the same next sequence number: the store's unique key
// refuses the loser, which reads the new head and tries again.
type cliAudit struct {
	st    activity.Store
	v     *vault.Vault
	node  string
	actor string
	off   bool // activity.enabled is false
}

// cliHost names the machine the CLI runs on.
func cliHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

// cliChain is the chain id of the CLI on this host.
func cliChain() string { return "cli-" + cliHost() }

// cliOperator names the operator: cli:<user>@<host>.
func cliOperator() string { return "cli:" + cliUser() + "@" + cliHost() }

// newCLIAudit returns the recorder of a command that changes something;
// v may be nil, in which case the vault is opened here (only when the
// activity log is on, so that commands keep working without the master
// key when it is off).
func newCLIAudit(ctx context.Context, cfg service.Config, st store.Store, v *vault.Vault) (*cliAudit, error) {
	a := &cliAudit{st: st, v: v, node: cliChain(), actor: cliOperator(), off: !cfg.Activity.Enabled}
	if a.off || v != nil {
		return a, nil
	}
	var err error
	if a.v, err = service.OpenVault(ctx, &cfg, st, nil); err != nil {
		return nil, fmt.Errorf("the activity log needs the master key to sign the CLI's entries: %w", err)
	}
	return a, nil
}

// outcome names the result of an action: "ok", or "error:<code>" (never
// the error's text, which may quote what was given).
func outcome(err error) string {
	if err == nil {
		return activity.OK
	}
	var be *bus.Error
	if errors.As(err, &be) {
		return "error:" + string(be.Def.Code)
	}
	return "failed"
}

// do runs an action and records it with its outcome; kind is "admin.cli."
// + kind, system the system concerned (its unit reads the entry, M6) and
// subject what was acted on. When the action succeeded but its entry
// cannot be written, do fails: the command must not report success.
func (a *cliAudit) do(ctx context.Context, kind, system, subject string, fn func() error) error {
	return a.done(ctx, kind, system, subject, fn())
}

// done records an action that ended with err (as do) and returns err, or
// the failure to record a successful action.
func (a *cliAudit) done(ctx context.Context, kind, system, subject string, err error) error {
	if rerr := a.commit(ctx, a.entry(kind, system, subject, outcome(err))); rerr != nil && err == nil {
		return rerr
	}
	return err
}

// entry builds an entry of this operator.
func (a *cliAudit) entry(kind, system, subject, out string) activity.Entry {
	if strings.ContainsAny(system, "*?") {
		system = "" // a pattern belongs to no one system
	}
	return activity.Entry{Kind: "admin.cli." + kind, Actor: a.actor, SystemCode: system, Subject: subject, Outcome: out}
}

// commit appends entries to the CLI chain in one transaction and signs
// the new head.
func (a *cliAudit) commit(ctx context.Context, entries ...activity.Entry) error {
	if a == nil || a.off || len(entries) == 0 {
		return nil
	}
	var err error
	for try := 0; try < 8; try++ {
		if try > 0 {
			// Another command on this host took the sequence number.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(try*50) * time.Millisecond):
			}
		}
		l := activity.New(activity.Options{Store: a.st, Vault: a.v, Node: a.node, CheckpointEvery: 1 << 30, CheckpointInterval: 24 * time.Hour})
		for _, e := range entries {
			l.Record(ctx, e)
		}
		if err = l.Flush(ctx); err != nil {
			continue
		}
		if err = l.Checkpoint(ctx); err != nil {
			return fmt.Errorf("the action is recorded in the activity log, but its checkpoint could not be signed: %w", err)
		}
		return nil
	}
	return fmt.Errorf("the action was done but could not be recorded in the activity log (M5); check it before repeating: %w", err)
}
