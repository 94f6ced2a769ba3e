package store

import (
	"context"
	"time"
)

// System statuses.
const (
	SystemActive    = "active"
	SystemSuspended = "suspended"
)

// System is a connected information system (R7), identified by its
// QCVN 102 identifier code.
type System struct {
	Code       string
	Name       string
	Unit       string // the owning unit (cơ quan, đơn vị)
	Contact    string // person, e-mail or phone to reach about this system
	Status     string // SystemActive or SystemSuspended
	WebhookURL string // optional: signed push notifications (F4)
	// Algs are the signature algorithms the system may use; empty means
	// DefaultAlg only. CreateSystem stores them; UpdateSystem leaves them
	// alone (SetSystemAlgs changes them).
	Algs []string
	// ClientCerts bind the system to TLS client certificates (mutual
	// TLS): when not empty, its requests must arrive over TLS presenting a
	// certificate one of them matches. CreateSystem stores them;
	// UpdateSystem leaves them alone (SetClientCerts changes them).
	ClientCerts []ClientCert
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ClientCert is one binding of a system to client certificates: either
// one certificate by its SHA-256 fingerprint, or every certificate issued
// by CA (a PEM certificate) with exactly Subject (RFC 2253 form, as
// x509.Certificate.Subject.String() prints it).
type ClientCert struct {
	ID          string    `json:"id"`
	SHA256      string    `json:"sha256,omitempty"`  // lower-case hex of the DER certificate's SHA-256
	CA          string    `json:"ca,omitempty"`      // PEM of the issuing CA certificate
	Subject     string    `json:"subject,omitempty"` // subject the certificate must have (with CA)
	Description string    `json:"description,omitempty"`
	AddedAt     time.Time `json:"added_at"`
}

// Key statuses.
const (
	KeyActive  = "active"
	KeyRevoked = "revoked"
)

// Key kinds: what the key material of a key is. The kind is stored with
// the key, so that no code has to guess it from the algorithm's name.
const (
	// KeyShared is a shared secret (HMAC algorithms): SecretEnc holds it,
	// sealed by the master key; PublicKey is empty.
	KeyShared = "shared"
	// KeyPublic is a public key (LGSP-RSA-SHA256): PublicKey holds it as
	// PEM; there is no secret and SecretEnc is empty.
	KeyPublic = "public"
)

// Key is an access key of a system with its key material: either a shared
// secret, stored sealed by the master key (vault), never in clear, or a
// public key. Kind says which; CreateKey refuses a key whose fields do not
// match its kind. An empty Kind is KeyShared.
type Key struct {
	AccessKey  string
	SystemCode string
	Alg        string // signature algorithm, e.g. "LGSP-HMAC-SHA256"
	Kind       string // KeyShared or KeyPublic
	SecretEnc  []byte // sealed shared secret (KeyShared only); open it with auth.SharedSecret
	PublicKey  []byte // PEM public key (KeyPublic only)
	Status     string // KeyActive or KeyRevoked
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: no expiry
	RevokedAt  time.Time // zero: not revoked
}

// RegistryStore is the registry of connected systems (R7) and their access
// keys: who may call the bus, with which key material.
type RegistryStore interface {
	CreateSystem(ctx context.Context, s System) error           // bus.ErrSystemExists
	GetSystem(ctx context.Context, code string) (System, error) // bus.ErrSystemNotFound
	ListSystems(ctx context.Context) ([]System, error)
	UpdateSystem(ctx context.Context, s System) error // by Code; bus.ErrSystemNotFound

	CreateKey(ctx context.Context, k Key) error
	GetKey(ctx context.Context, accessKey string) (Key, error) // bus.ErrKeyNotFound
	ListKeys(ctx context.Context, systemCode string) ([]Key, error)
	RevokeKey(ctx context.Context, accessKey string, at time.Time) error // bus.ErrKeyNotFound
	// MoveLegacyPublicKey completes migration 0005 for one KeyPublic key
	// whose public key was stored sealed in SecretEnc: it sets PublicKey
	// and empties SecretEnc (bus.ErrKeyNotFound; a key that is not of kind
	// KeyPublic, or already has its PublicKey, is left alone).
	MoveLegacyPublicKey(ctx context.Context, accessKey string, pemBytes []byte) error
}
