package store

// SessionStore persists session keys (A1–A6) and OAuth2 bearer tokens,
// stored only as hashes.
type SessionStore interface {
}
