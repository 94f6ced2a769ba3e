package sso

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/tuyenquang/lgsp/bus/store"
)

// Signing keys are RSA 2048 keys (RS256, the one algorithm every OpenID
// Connect relying party supports). The private key is sealed by the master
// key (bus/vault) with the key id as associated data, so a key record
// cannot be moved under another id. The newest key signs; older ones stay
// published until RetainKeys after they were replaced.

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return &k.key.PublicKey }

func keyAAD(id string) []byte { return []byte("lgsp-sso-key:" + id) }

// keys returns the published keys, newest last, creating the first one
// and rotating the newest when it is older than the rotation period.
func (p *Provider) keys(ctx context.Context) ([]*signingKey, error) {
	rs, err := p.o.Store.ListSSO(ctx, kindKey, "", p.now())
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || (p.o.KeyRotation > 0 && p.now().Sub(newest(rs).CreatedAt) >= p.o.KeyRotation) {
		if _, err := p.RotateKey(ctx, "schedule"); err != nil {
			return nil, err
		}
		if rs, err = p.o.Store.ListSSO(ctx, kindKey, "", p.now()); err != nil {
			return nil, err
		}
	}
	// The key that signs is the one not yet retired (expires_at unset);
	// put it last.
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].ExpiresAt.IsZero() {
			rs = append(append(rs[:i:i], rs[i+1:]...), rs[i])
			break
		}
	}
	out := make([]*signingKey, 0, len(rs))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rs {
		if k, ok := p.keyCache[r.ID]; ok {
			out = append(out, k)
			continue
		}
		der, err := p.o.Vault.Open(r.Data, keyAAD(r.ID))
		if err != nil {
			return nil, fmt.Errorf("opening signing key %s: %w", r.ID, err)
		}
		pk, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("parsing signing key %s: %w", r.ID, err)
		}
		k := &signingKey{id: r.ID, key: pk}
		p.keyCache[r.ID] = k
		out = append(out, k)
	}
	return out, nil
}

// RotateKey makes a new signing key the one that signs, and keeps the
// previous ones published (for verification) for RetainKeys. It returns
// the new key's id. by names who asked ("schedule" for the period).
func (p *Provider) RotateKey(ctx context.Context, by string) (string, error) {
	p.rot.Lock()
	defer p.rot.Unlock()
	now := p.now()
	old, err := p.o.Store.ListSSO(ctx, kindKey, "", now)
	if err != nil {
		return "", err
	}
	// Another caller (or node) rotated while we waited: keep its key.
	if by == "schedule" && len(old) > 0 && (p.o.KeyRotation <= 0 || now.Sub(newest(old).CreatedAt) < p.o.KeyRotation) {
		return newest(old).ID, nil
	}
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	id := "k" + now.UTC().Format("20060102T150405") + "-" + randomString(6)
	sealed := p.o.Vault.Seal(x509.MarshalPKCS1PrivateKey(pk), keyAAD(id))
	if err := p.o.Store.PutSSO(ctx, store.SSORecord{Kind: kindKey, ID: id, Data: sealed, CreatedAt: now}); err != nil {
		return "", err
	}
	for _, r := range old {
		if r.ExpiresAt.IsZero() {
			r.ExpiresAt = now.Add(p.retain())
			if err := p.o.Store.PutSSO(ctx, r); err != nil {
				return "", err
			}
		}
	}
	p.record(ctx, by, "sso.key.rotate", id, "")
	return id, nil
}

// retain is how long a replaced key stays published: longer than any
// token it signed lives.
func (p *Provider) retain() time.Duration {
	return max(p.o.IDTokenLifetime, p.o.AccessTokenLifetime) + 5*time.Minute
}

// SigningKey, SignatureAlgorithms and KeySet implement op.Storage.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	ks, err := s.p.keys(ctx)
	if err != nil {
		return nil, err
	}
	return ks[len(ks)-1], nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ks, err := s.p.keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(ks))
	for i, k := range ks {
		out[i] = &publicKey{*k}
	}
	return out, nil
}

// newest is the latest created key record.
func newest(rs []store.SSORecord) store.SSORecord {
	n := rs[0]
	for _, r := range rs[1:] {
		if !r.CreatedAt.Before(n.CreatedAt) {
			n = r
		}
	}
	return n
}
