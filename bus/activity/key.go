package activity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// AlgEd25519 is the algorithm of node checkpoint keys.
const AlgEd25519 = "Ed25519"

// KeyName is the platform key name of a node's checkpoint key.
func KeyName(node string) string { return "activity:" + node }

func keyAAD(name, id string) []byte { return []byte("platform-key:" + name + ":" + id) }

// checkpointMessage is what a checkpoint signature covers.
func checkpointMessage(node string, seq int64, hash string) []byte {
	return []byte("lgsp-activity-checkpoint\n" + node + "\n" + strconv.FormatInt(seq, 10) + "\n" + hash)
}

// nodeKey is a node's signing key, opened.
type nodeKey struct {
	id   string
	priv ed25519.PrivateKey
}

// loadKey opens the node's key, creating it on first use. Another process
// of the same node name that created one first wins (CreatePlatformKey).
func loadKey(ctx context.Context, st store.PlatformKeyStore, v *vault.Vault, node string) (*nodeKey, error) {
	name := KeyName(node)
	sk, err := st.PlatformKey(ctx, name)
	if errors.Is(err, bus.ErrKeyNotFound.Err()) {
		sk, err = createKey(ctx, st, v, name)
	}
	if err != nil {
		return nil, fmt.Errorf("activity key of node %s: %w", node, err)
	}
	der, err := v.Open(sk.PrivateEnc, keyAAD(sk.Name, sk.KeyID))
	if err != nil {
		return nil, bus.ErrInternal.Wrap(err, "opening the activity key of node %s", node)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	priv, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, bus.ErrInternal.New("the activity key of node %s is not an Ed25519 key", node)
	}
	return &nodeKey{id: sk.KeyID, priv: priv}, nil
}

func createKey(ctx context.Context, st store.PlatformKeyStore, v *vault.Vault, name string) (store.PlatformKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return store.PlatformKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.PlatformKey{}, err
	}
	defer clear(der)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return store.PlatformKey{}, err
	}
	sum := sha256.Sum256(pubDER)
	id := "NK" + hex.EncodeToString(sum[:])[:20]
	return st.CreatePlatformKey(ctx, store.PlatformKey{Name: name, KeyID: id, Alg: AlgEd25519,
		PrivateEnc: v.Seal(der, keyAAD(name, id)),
		PublicKey:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		CreatedAt:  time.Now().UTC()})
}

// publicKey reads a node's public checkpoint key (no master key needed).
func publicKey(ctx context.Context, st store.PlatformKeyStore, node string) (string, ed25519.PublicKey, error) {
	sk, err := st.PlatformKey(ctx, KeyName(node))
	if err != nil {
		return "", nil, err
	}
	b, _ := pem.Decode(sk.PublicKey)
	if b == nil {
		return "", nil, fmt.Errorf("activity key of node %s: no PEM public key", node)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	pub, ok := k.(ed25519.PublicKey)
	if err != nil || !ok || sk.Alg != AlgEd25519 {
		return "", nil, fmt.Errorf("activity key of node %s is not an Ed25519 public key", node)
	}
	return sk.KeyID, pub, nil
}
