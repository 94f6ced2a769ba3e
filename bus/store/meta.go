package store

import "context"

// Names of meta values.
const (
	// MetaKeyCheck holds the master key check value (service.CheckMasterKey).
	MetaKeyCheck = "master_key_check"
)

// Kinds of SealedSample.
const (
	SealedKeySecret  = "key"      // a key's sealed secret; ID is its access key
	SealedWrappedKey = "exchange" // an exchange's wrapped data key; ID is the exchange id
)

// SealedSample is one value of the store sealed by the master key, with
// what its associated data is built from.
type SealedSample struct {
	Kind   string // SealedKeySecret or SealedWrappedKey
	ID     string
	Sealed []byte
}

// MetaStore keeps small facts about the installation that every node and
// the CLI share. A value is written once and never changed.
type MetaStore interface {
	// GetMeta returns the value of name; ok is false when it is not set.
	GetMeta(ctx context.Context, name string) (value []byte, ok bool, err error)
	// InitMeta sets name to value unless it is set already, and returns the
	// value in force: the one given, or the one another node or process
	// wrote first.
	InitMeta(ctx context.Context, name string, value []byte) ([]byte, error)
	// SealedSamples returns up to limit values sealed by the master key of
	// each kind (keys' secrets, wrapped data keys of exchanges not yet
	// purged), oldest first; none when the store holds no sealed data. It
	// lets a master key be checked on a database from before the key check
	// value.
	SealedSamples(ctx context.Context, limit int) ([]SealedSample, error)
}
