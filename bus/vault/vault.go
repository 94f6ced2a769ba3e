package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of the master key and of data keys (AES-256).
const KeySize = 32

const (
	sealVersion = 1 // first byte of every sealed value
	nonceSize   = 12
)

// ErrOpen is returned when sealed data cannot be opened: wrong key, tampered
// bytes or wrong associated data.
var ErrOpen = errors.New("vault: cannot open sealed data (wrong key or tampered)")

// Vault seals and opens secrets under the master key.
type Vault struct {
	aead  cipher.AEAD
	check []byte
}

// checkLabel is what the key check value is computed over; changing it
// would make every existing installation refuse its own key.
const checkLabel = "lgsp key check v1"

// New returns a vault for a 32-byte master key.
func New(master []byte) (*Vault, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("vault: master key must be %d bytes, got %d", KeySize, len(master))
	}
	a, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, master)
	m.Write([]byte(checkLabel))
	return &Vault{aead: a, check: m.Sum(nil)}, nil
}

// CheckValue identifies the master key without revealing it:
// HMAC-SHA256(master key, "lgsp key check v1"). The store keeps it so that
// a node refuses to start on another key (service.OpenVault).
func (v *Vault) CheckValue() []byte { return bytes.Clone(v.check) }

// Matches reports whether check is this key's CheckValue (constant time).
func (v *Vault) Matches(check []byte) bool { return hmac.Equal(check, v.check) }

// ParseKey decodes a master key written as base64 (standard or URL, with or
// without padding) or 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	if len(s) == 2*KeySize {
		b := make([]byte, KeySize)
		if _, err := fmt.Sscanf(s, "%x", &b); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("vault: master key must be %d bytes as base64 or hex", KeySize)
}

// LoadOrCreate reads the master key file at path, or creates it with a new
// random key and 0600 permissions if it does not exist. created tells which.
// A key file readable by group or others is refused.
func LoadOrCreate(path string) (v *Vault, created bool, err error) {
	v, err = Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		v, err = Create(path)
		return v, err == nil, err
	}
	return v, false, err
}

// Load reads the master key file at path; a missing file is an error that
// matches fs.ErrNotExist. A key file readable by group or others is refused.
func Load(path string) (*Vault, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("master key file %s: %w", path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("reading master key file: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %v: it must not be readable by group or others (chmod 600)", path, st.Mode().Perm())
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return New(key)
}

// Create writes a new random master key to path (mode 0600; the file must
// not exist) and returns its vault.
func Create(path string) (*Vault, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating master key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating master key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("writing master key file: %w", werr)
	}
	return New(key)
}

// Seal encrypts plaintext under the master key; aad binds it to its context
// (e.g. the access key a secret belongs to) so sealed values cannot be
// swapped between rows.
func (v *Vault) Seal(plaintext, aad []byte) []byte { return seal(v.aead, plaintext, aad) }

// Open decrypts a value made by Seal with the same aad.
func (v *Vault) Open(sealed, aad []byte) ([]byte, error) { return open(v.aead, sealed, aad) }

// NewDataKey makes a fresh data key for one exchange and returns it with its
// wrapped (sealed) form to store beside the exchange.
func (v *Vault) NewDataKey(exchangeID string) (*DataKey, []byte, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, nil, err
	}
	dk, err := newDataKey(raw)
	if err != nil {
		return nil, nil, err
	}
	wrapped := v.Seal(raw, []byte("dk:"+exchangeID))
	clear(raw)
	return dk, wrapped, nil
}

// UnwrapDataKey opens a wrapped data key of an exchange.
func (v *Vault) UnwrapDataKey(exchangeID string, wrapped []byte) (*DataKey, error) {
	raw, err := v.Open(wrapped, []byte("dk:"+exchangeID))
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	return newDataKey(raw)
}

// DataKey encrypts the chunks of one exchange.
type DataKey struct {
	aead cipher.AEAD
}

func newDataKey(raw []byte) (*DataKey, error) {
	a, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	return &DataKey{aead: a}, nil
}

// SealChunk encrypts the chunk of exchange id that starts at offset; the
// exchange id and offset are bound as associated data, so chunks cannot be
// reordered or moved between exchanges.
func (k *DataKey) SealChunk(id string, offset int64, plain []byte) []byte {
	return seal(k.aead, plain, chunkAAD(id, offset))
}

// OpenChunk decrypts a chunk sealed by SealChunk.
func (k *DataKey) OpenChunk(id string, offset int64, sealed []byte) ([]byte, error) {
	return open(k.aead, sealed, chunkAAD(id, offset))
}

// Overhead is the number of bytes sealing adds to a plaintext.
const Overhead = 1 + nonceSize + 16

func chunkAAD(id string, offset int64) []byte {
	b := make([]byte, 0, len(id)+9)
	b = append(b, id...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, uint64(offset))
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

func seal(a cipher.AEAD, plain, aad []byte) []byte {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plain)+a.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		panic("vault: crypto/rand failed: " + err.Error())
	}
	return a.Seal(out, out[1:1+nonceSize], plain, aad)
}

func open(a cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+a.Overhead() || sealed[0] != sealVersion {
		return nil, ErrOpen
	}
	p, err := a.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return p, nil
}
