// Package delivery is the one engine that moves everything leaving the bus
// (issue #10): webhooks, SOAP pushes to legacy systems, VXP pushes, NGSP
// calls and any later kind.
//
// A delivery kind is one registered component (Kind): its name, how to
// deliver one item, and optionally its retry policy, its per-target slots,
// what it records once an outcome is final, and its route-file section
// (route.Section, decoded strictly with positions by bus/route). The
// Runner moves every kind through the durable outbox of bus/store:
//
//   - claims under a fresh lease token, with heartbeats while it holds
//     items, so a slow delivery keeps its lease and is never taken twice;
//   - outcomes recorded only for the current holder of the token (fencing
//     in the store: UPDATE … WHERE id = ? AND lease_token = ?);
//   - per-target slots and a bounded queue per target: a claim skips the
//     targets that are full, so a slow or dead destination uses only its
//     own slots;
//   - one retry policy (bus.RetryPolicy); permanent errors (Permanent) and
//     exhausted items become dead letters with their last error and
//     attempt history, which operators list, requeue and discard;
//   - a panic in a kind is recovered and recorded as that item's failure;
//   - on shutdown it stops claiming, lets running deliveries finish within
//     a grace period, and releases everything else; a restarted node first
//     releases the leases of its previous life.
//
// Every item has an idempotency key (Key) that the kind passes to the
// destination; after a crash a destination sees an item once, or again
// with the same key.
package delivery
