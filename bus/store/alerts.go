package store

import (
	"context"
	"time"
)

// AlertState is one alert that is firing (bus/alert): the node that holds
// the evaluation lease keeps these rows so that every node agrees on what
// was already sent, and a "resolved" message is sent once.
type AlertState struct {
	Key      string    // rule + subject, e.g. "destination_failing/000.00.01.H60"; up to 190 characters
	Rule     string    // rule name
	Subject  string    // what it is about: a system code, access key, address, gateway (no payload)
	Since    time.Time // when the condition was first seen
	LastSent time.Time // when the last firing or repeat message went out
	Detail   string    // short text of the last evaluation (numbers, names), no payload
}

// Backlog is what waits to be delivered, counted by the database.
type Backlog struct {
	OutboxPending int64     // outbox items not yet delivered
	OutboxDead    int64     // outbox items whose retries are exhausted
	Due           int64     // recipients planned and due now (not yet claimed)
	OldestPending time.Time // first attempt time of the oldest pending outbox item (zero if none)
}

// AlertStore keeps firing alerts and counts the backlog (issue #11).
type AlertStore interface {
	// ListAlerts returns every firing alert, by key.
	ListAlerts(ctx context.Context) ([]AlertState, error)
	// PutAlert inserts or replaces the alert of a.Key.
	PutAlert(ctx context.Context, a AlertState) error
	// DeleteAlert removes the alert of key (resolved); no error if absent.
	DeleteAlert(ctx context.Context, key string) error
	// Backlog counts what waits to be delivered at now.
	Backlog(ctx context.Context, now time.Time) (Backlog, error)
}
