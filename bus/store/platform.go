package store

import (
	"context"
	"time"
)

// PlatformKey is a signing key pair of the platform itself (webhooks to
// systems that have no shared secret). Every node signs with the same key,
// so it lives in the store: the private key sealed by the master key, the
// public key in clear (it is published).
type PlatformKey struct {
	Name       string // what it signs, e.g. "webhook"
	KeyID      string // identifies the public key (the access key of signatures)
	Alg        string // e.g. "LGSP-RSA-SHA256"
	PrivateEnc []byte // sealed private key (PEM)
	PublicKey  []byte // PEM public key
	CreatedAt  time.Time
}

// PlatformKeyStore keeps the platform's signing keys.
type PlatformKeyStore interface {
	// PlatformKey returns the key of name (bus.ErrKeyNotFound).
	PlatformKey(ctx context.Context, name string) (PlatformKey, error)
	// CreatePlatformKey stores k unless a key of k.Name exists, and returns
	// the key in force: k, or the one another node stored first.
	CreatePlatformKey(ctx context.Context, k PlatformKey) (PlatformKey, error)
}
