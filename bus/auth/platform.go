package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// PlatformWebhookKey is the name of the platform key that signs webhooks
// to systems whose newest key is a public key (they hold no secret the
// platform could sign with).
const PlatformWebhookKey = "webhook"

// PlatformKeyBits is the size of the platform's RSA signing key: 3072
// bits, as NIST advises for use beyond 2030. RSA, not Ed25519, so that
// receivers verify with the same LGSP-RSA-SHA256 code and `openssl dgst
// -sha256 -verify` they already use for the protocol.
const PlatformKeyBits = 3072

// PlatformKeys holds the platform's own signing key pair. It is created
// once, by the first node that needs it, and kept in the store with the
// private key sealed by the master key, so every node signs with the same
// key. Its public key is published (GET /v1/platform/keys, `lgsp
// platform-key`). Fields are set once before use.
type PlatformKeys struct {
	Store interface {
		PlatformKey(ctx context.Context, name string) (store.PlatformKey, error)
		CreatePlatformKey(ctx context.Context, k store.PlatformKey) (store.PlatformKey, error)
	}
	Vault *vault.Vault
	Now   func() time.Time

	mu     sync.Mutex
	loaded *platformKey
}

type platformKey struct {
	id      string
	privPEM []byte
	pub     PlatformPublicKey
}

// PlatformPublicKey is the published half of a platform key.
type PlatformPublicKey struct {
	Use       string    `json:"use"`    // what it signs: "webhook"
	KeyID     string    `json:"key_id"` // the Credential of its signatures
	Alg       string    `json:"alg"`
	PublicKey string    `json:"public_key"` // PEM (PKIX)
	CreatedAt time.Time `json:"created_at"`
}

func platformAAD(name, id string) []byte { return []byte("platform-key:" + name + ":" + id) }

// PlatformKeyID returns the key id of a platform public key: "PK" and 20
// characters of the SHA-256 of its PKIX encoding (access keys of systems'
// public keys start with "RK").
func PlatformKeyID(pub *rsa.PublicKey) string { return "PK" + RSAAccessKey(pub)[2:] }

// Webhook returns the webhook signing key, creating it if no node did yet.
func (p *PlatformKeys) Webhook(ctx context.Context) (PlatformPublicKey, error) {
	k, err := p.key(ctx)
	if err != nil {
		return PlatformPublicKey{}, err
	}
	return k.pub, nil
}

// SignWebhook signs a webhook request with LGSP-RSA-SHA256 under the
// platform key: the same canonical request and headers as every signed
// request, with the platform key id as Credential.
func (p *PlatformKeys) SignWebhook(ctx context.Context, r *http.Request, bodySHA256Hex string, now time.Time) error {
	k, err := p.key(ctx)
	if err != nil {
		return err
	}
	return SignWith(AlgRSASHA256, r, k.id, k.privPEM, bodySHA256Hex, now, "")
}

func (p *PlatformKeys) key(ctx context.Context) (*platformKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loaded != nil {
		return p.loaded, nil
	}
	if p.Store == nil || p.Vault == nil {
		return nil, bus.ErrInternal.New("platform keys are not configured")
	}
	sk, err := p.Store.PlatformKey(ctx, PlatformWebhookKey)
	if errors.Is(err, bus.ErrKeyNotFound.Err()) {
		sk, err = p.create(ctx)
	}
	if err != nil {
		return nil, storeFault(err, "reading the platform key")
	}
	priv, err := p.Vault.Open(sk.PrivateEnc, platformAAD(sk.Name, sk.KeyID))
	if err != nil {
		return nil, bus.ErrInternal.Wrap(err, "opening the platform key")
	}
	if _, err := ParseRSAPrivateKey(priv); err != nil {
		return nil, bus.ErrInternal.Wrap(err, "the platform key is not an RSA private key")
	}
	p.loaded = &platformKey{id: sk.KeyID, privPEM: priv, pub: PlatformPublicKey{
		Use: sk.Name, KeyID: sk.KeyID, Alg: sk.Alg, PublicKey: string(sk.PublicKey), CreatedAt: sk.CreatedAt,
	}}
	return p.loaded, nil
}

// create makes a new key pair and stores it; if another node stored one
// first, that one is returned and this one forgotten.
func (p *PlatformKeys) create(ctx context.Context) (store.PlatformKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, PlatformKeyBits)
	if err != nil {
		return store.PlatformKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.PlatformKey{}, err
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	id := PlatformKeyID(&priv.PublicKey)
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	k := store.PlatformKey{Name: PlatformWebhookKey, KeyID: id, Alg: AlgRSASHA256,
		PrivateEnc: p.Vault.Seal(privPEM, platformAAD(PlatformWebhookKey, id)),
		PublicKey:  publicKeyPEM(&priv.PublicKey), CreatedAt: now.UTC()}
	clear(privPEM)
	return p.Store.CreatePlatformKey(ctx, k)
}
