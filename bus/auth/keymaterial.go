package auth

import (
	"context"
	"crypto/rsa"
	"fmt"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// This file is the only place that opens store.Key.SecretEnc. Every path
// that needs a shared secret — signature checks, POST /token, the
// lgspaccesstoken header, WS-Security UsernameTokens, calls forwarded to a
// service, webhooks — asks SharedSecret, which has nothing to give for a
// public key: a system's certificate is public, so its public key must
// never pass for a secret. TestSecretEncOpenedOnlyHere keeps it so.

// keyKinded is implemented by algorithms that say which kind of key they
// need (store.KeyShared or store.KeyPublic).
type keyKinded interface{ KeyKind() string }

func (hmacAlg) KeyKind() string { return store.KeyShared }
func (rsaAlg) KeyKind() string  { return store.KeyPublic }

// AlgKeyKind returns the kind of key alg needs: store.KeyShared for the
// HMAC algorithms, store.KeyPublic for LGSP-RSA-SHA256, "" for an unknown
// algorithm.
func AlgKeyKind(alg string) string {
	if alg == "" {
		alg = AlgHMACSHA256
	}
	a, ok := LookupAlgorithm(alg)
	if !ok {
		return ""
	}
	if k, ok := a.(keyKinded); ok {
		return k.KeyKind()
	}
	return ""
}

// KeyKindOf returns the kind of k. A key read from the store always has
// one; an empty Kind counts as shared only for an algorithm of shared
// secrets, so a key of another algorithm never passes for one.
func KeyKindOf(k store.Key) string {
	if k.Kind != "" {
		return k.Kind
	}
	if AlgKeyKind(k.Alg) == store.KeyShared {
		return store.KeyShared
	}
	return ""
}

// IsShared reports whether k holds a shared secret: its kind is
// store.KeyShared and its algorithm is one of shared secrets.
func IsShared(k store.Key) bool {
	return KeyKindOf(k) == store.KeyShared && AlgKeyKind(k.Alg) == store.KeyShared
}

// SharedSecret opens the shared secret of an HMAC key. A key of any other
// kind (an RSA public key) has none: auth.key_kind, and nothing is opened.
// The caller clears the secret after use.
func SharedSecret(v *vault.Vault, k store.Key) ([]byte, error) {
	if !IsShared(k) {
		return nil, errKeyKind(k)
	}
	if v == nil {
		return nil, bus.ErrInternal.New("no vault to open the secret of an access key")
	}
	secret, err := v.Open(k.SecretEnc, SecretAAD(k.AccessKey))
	if err != nil {
		return nil, bus.ErrInternal.Wrap(err, "opening the secret of an access key")
	}
	return secret, nil
}

func errKeyKind(k store.Key) *bus.Error {
	return bus.ErrAuthKeyKind.New("access key %s is a %s key (%s); it has no shared secret", k.AccessKey, orUnknown(KeyKindOf(k)), orUnknown(k.Alg))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// PublicKeyOf returns the RSA public key of a key of kind store.KeyPublic
// (auth.key_kind for any other).
func PublicKeyOf(k store.Key) (*rsa.PublicKey, error) {
	if KeyKindOf(k) != store.KeyPublic || AlgKeyKind(k.Alg) != store.KeyPublic {
		return nil, bus.ErrAuthKeyKind.New("access key %s is not a public key", k.AccessKey)
	}
	if len(k.PublicKey) == 0 {
		return nil, bus.ErrInternal.New("access key %s has no public key stored; start a node once to complete migration 0005", k.AccessKey)
	}
	pub, err := cachedPublicKey(k.PublicKey)
	if err != nil {
		return nil, bus.ErrInternal.Wrap(err, "the stored public key of %s", k.AccessKey)
	}
	return pub, nil
}

// verifyMaterial returns what alg verifies a signature of k with: the
// shared secret for an HMAC algorithm, the PEM public key for RSA. A key
// whose kind is not the one alg needs is auth.key_kind, whatever the
// algorithm names say. The caller clears the result.
func verifyMaterial(v *vault.Vault, k store.Key, alg string) ([]byte, error) {
	switch AlgKeyKind(alg) {
	case store.KeyShared:
		return SharedSecret(v, k)
	case store.KeyPublic:
		if KeyKindOf(k) != store.KeyPublic {
			return nil, bus.ErrAuthAlgorithm.New("access key %s signs with %s, not %s", k.AccessKey, keyAlgOf(k), clip(alg))
		}
		if _, err := PublicKeyOf(k); err != nil {
			return nil, err
		}
		return append([]byte(nil), k.PublicKey...), nil
	}
	return nil, bus.ErrAuthAlgorithm.New("algorithm %s has no key kind", clip(alg))
}

// UpgradeKeyStore is what UpgradeKeys needs; store.Store satisfies it.
type UpgradeKeyStore interface {
	ListSystems(ctx context.Context) ([]store.System, error)
	ListKeys(ctx context.Context, systemCode string) ([]store.Key, error)
	MoveLegacyPublicKey(ctx context.Context, accessKey string, pemBytes []byte) error
}

// UpgradeKeys completes migration 0005: a public key registered before it
// was stored sealed in SecretEnc; it is opened with the master key, checked
// to be an RSA public key and moved to PublicKey, and SecretEnc emptied.
// Nodes run it at start; it does nothing once every key is moved. It
// returns how many keys it moved.
func UpgradeKeys(ctx context.Context, st UpgradeKeyStore, v *vault.Vault) (int, error) {
	systems, err := st.ListSystems(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range systems {
		keys, err := st.ListKeys(ctx, s.Code)
		if err != nil {
			return n, err
		}
		for _, k := range keys {
			if k.Kind != store.KeyPublic || len(k.PublicKey) != 0 || len(k.SecretEnc) == 0 {
				continue
			}
			sealed, err := v.Open(k.SecretEnc, SecretAAD(k.AccessKey))
			if err != nil {
				return n, fmt.Errorf("opening the sealed public key of %s: %w", k.AccessKey, err)
			}
			pub, err := ParseRSAPublicKey(sealed)
			if err != nil {
				return n, fmt.Errorf("key %s: %w", k.AccessKey, err)
			}
			if err := st.MoveLegacyPublicKey(ctx, k.AccessKey, publicKeyPEM(pub)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
