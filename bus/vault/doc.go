// Package vault owns LGSP's keys at rest: the master key, secrets sealed
// under it, and the per-exchange data keys that encrypt payload chunks
// (AES-256-GCM envelope encryption, design.md "Payloads in transit").
//
// Deleting an exchange's wrapped data key makes every copy of its chunks —
// in the database, its WAL, backups — unreadable (crypto-shredding, R2).
//
// It imports only the standard library and bus.
package vault
