// Package activity is the tamper-evident activity log (issue #11, M5/M6):
// every exchange state change, service call, gateway pull or push and
// admin action becomes an entry of an append-only log.
//
// Each node keeps its own hash chain: entry n of a node stores the SHA-256
// of its fields and of entry n-1's hash (Hash), so that editing, deleting,
// inserting or reordering entries breaks the chain at that entry. Several
// nodes on one MariaDB each write their own chain (no cross-node lock on
// the hot path); Verify checks all of them together. Every
// Options.CheckpointEvery entries, and at least every CheckpointInterval,
// the node signs the head of its chain (sequence and hash) with its own
// Ed25519 key, kept in the store like the platform key (private half sealed
// by the master key, platform key "activity:<node>"); a checkpoint stops a
// rewrite of the whole chain after an edit, and a truncation of its tail.
// Entries written after the last checkpoint are protected against editing,
// deletion in the middle and reordering, not against removal of the very
// last ones.
//
// One writer per node (Log.Run) appends buffered entries in one
// transaction per batch. Commit waits until its entry is in the database
// (concurrent commits share a transaction): callers commit what they are
// about to acknowledge (admin actions, service calls, gateway transfers)
// so that a node killed at any moment loses no acknowledged entry. Record
// does not wait (refused requests): its entries, in a bounded buffer, are
// lost if the node dies before the next flush. Exchange state changes are
// durable through the ledger, which the writer tails for the events its
// node wrote.
//
// Entries hold metadata only: codes, ids, kinds and error codes, never
// payload text.
package activity
