package auth

import (
	"context"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// AuditStore is what the registry needs to record key operations and to
// keep the systems' allowed algorithms; store.Store satisfies it.
type AuditStore interface {
	AddKeyEvents(ctx context.Context, events ...store.KeyEvent) error
	KeyEvents(ctx context.Context, system string, limit int) ([]store.KeyEvent, error)
	RotateKey(ctx context.Context, r store.Rotation) error
	SetSystemAlgs(ctx context.Context, code string, algs []string, events ...store.KeyEvent) error
}

type actorKey struct{}

// WithActor returns ctx carrying who acts, for the audit of keys and
// grants: "cli:<user>" from the CLI, "admin-api" from the admin API.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf returns the actor of ctx, or "lgsp" (the platform itself).
func ActorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "lgsp"
}

// record writes key events with the actor of ctx; without an audit store
// it does nothing.
func (r *Registry) record(ctx context.Context, events ...store.KeyEvent) error {
	if r.Audit == nil {
		return nil
	}
	for i := range events {
		if events[i].Actor == "" {
			events[i].Actor = ActorOf(ctx)
		}
	}
	if err := r.Audit.AddKeyEvents(ctx, events...); err != nil {
		return fmt.Errorf("recording key events: %w", err)
	}
	return nil
}

func (r *Registry) audit() (AuditStore, error) {
	if r.Audit == nil {
		return nil, bus.ErrInternal.New("registry has no audit store")
	}
	return r.Audit, nil
}

func keyDetail(alg string, expires time.Time) string {
	d := "alg " + alg
	if !expires.IsZero() {
		d += ", expires " + expires.UTC().Format(time.RFC3339)
	}
	return d
}

// Rotated is the result of RotateKey.
type Rotated struct {
	AccessKey  string    // the new key
	SecretKey  string    // its secret, shown once
	System     string    // the system of both keys
	Old        string    // the old key
	OldExpires time.Time // when the old key stops working
}

// RotateKey replaces an HMAC access key without downtime (M6): it issues a
// new key of the same system and algorithm, and sets the old key's expiry
// to now+overlap (or leaves an earlier expiry), so both work during the
// overlap. The new key expires when expires says (zero: never). Rotating a
// revoked or expired key is bus.ErrBadRequest (issue a new key instead); an
// RSA key is rotated by registering the new public key. Both keys get an
// audit record.
func (r *Registry) RotateKey(ctx context.Context, oldKey string, overlap time.Duration, expires time.Time) (Rotated, error) {
	defer r.changed()
	au, err := r.audit()
	if err != nil {
		return Rotated{}, err
	}
	if r.Vault == nil {
		return Rotated{}, bus.ErrInternal.New("registry has no vault")
	}
	if overlap < 0 {
		return Rotated{}, bus.ErrBadRequest.New("overlap must not be negative")
	}
	old, err := r.Store.GetKey(ctx, strings.TrimSpace(oldKey))
	if err != nil {
		return Rotated{}, err
	}
	alg := old.Alg
	if alg == "" {
		alg = AlgHMACSHA256
	}
	if !IsShared(old) {
		return Rotated{}, bus.ErrBadRequest.New("%s is an RSA key: register the new public key (lgsp keys add-rsa), then revoke or let this one expire", old.AccessKey)
	}
	now := r.now().UTC()
	if !expires.IsZero() && !expires.After(now) {
		return Rotated{}, bus.ErrBadRequest.New("key expiry %s is not in the future", expires.UTC().Format(time.RFC3339))
	}
	ak, secret := "AK"+bus.RandomToken(12), bus.RandomToken(32)
	nk := store.Key{AccessKey: ak, SystemCode: old.SystemCode, Alg: alg, Kind: store.KeyShared, SecretEnc: r.Vault.Seal([]byte(secret), SecretAAD(ak)), Status: store.KeyActive, CreatedAt: now}
	if !expires.IsZero() {
		nk.ExpiresAt = expires.UTC()
	}
	oldExp := now.Add(overlap)
	if !old.ExpiresAt.IsZero() && old.ExpiresAt.Before(oldExp) {
		oldExp = old.ExpiresAt
	}
	actor := ActorOf(ctx)
	events := []store.KeyEvent{
		{At: now, AccessKey: old.AccessKey, System: old.SystemCode, Action: store.KeyEventRotated, Actor: actor, Detail: fmt.Sprintf("replaced by %s; valid until %s (overlap %s)", ak, oldExp.Format(time.RFC3339), overlap)},
		{At: now, AccessKey: ak, System: old.SystemCode, Action: store.KeyEventIssued, Actor: actor, Detail: keyDetail(alg, nk.ExpiresAt) + ", replaces " + old.AccessKey},
	}
	if err := au.RotateKey(ctx, store.Rotation{Old: old.AccessKey, New: nk, OldExpires: oldExp, Events: events}); err != nil {
		return Rotated{}, err
	}
	return Rotated{AccessKey: ak, SecretKey: secret, System: old.SystemCode, Old: old.AccessKey, OldExpires: oldExp}, nil
}

// RegisterRSAKey registers the public key of a system for LGSP-RSA-SHA256
// (a PEM public key or an X.509 certificate, RSA ≥ 2048 bits). The system
// must be allowed that algorithm. The returned access key identifies the
// public key (RSAAccessKey); there is no secret. The key is stored in PKIX
// form (a certificate is kept as given, so that the key_cert_expiring
// alert sees its end of validity) as a key of kind store.KeyPublic, apart from the sealed secrets of
// HMAC keys, so that no path that needs a secret can be given it.
func (r *Registry) RegisterRSAKey(ctx context.Context, code string, pemBytes []byte, expires time.Time) (string, error) {
	if r.Vault == nil {
		return "", bus.ErrInternal.New("registry has no vault")
	}
	pub, err := ParseRSAPublicKey(pemBytes)
	if err != nil {
		return "", bus.ErrBadRequest.Wrap(err, "%v", err)
	}
	s, err := r.Store.GetSystem(ctx, strings.TrimSpace(code))
	if err != nil {
		return "", err
	}
	if !AlgAllowed(s, AlgRSASHA256) {
		return "", bus.ErrBadRequest.New("system %s may not sign with %s (allowed: %s): allow it first", s.Code, AlgRSASHA256, strings.Join(AllowedAlgs(s), ", "))
	}
	now := r.now().UTC()
	if !expires.IsZero() && !expires.After(now) {
		return "", bus.ErrBadRequest.New("key expiry %s is not in the future", expires.UTC().Format(time.RFC3339))
	}
	ak := RSAAccessKey(pub)
	if _, err := r.Store.GetKey(ctx, ak); err == nil {
		return "", bus.ErrBadRequest.New("this public key is already registered as %s", ak)
	}
	k := store.Key{AccessKey: ak, SystemCode: s.Code, Alg: AlgRSASHA256, Kind: store.KeyPublic, PublicKey: storedPublicKey(pemBytes, pub), Status: store.KeyActive, CreatedAt: now}
	if !expires.IsZero() {
		k.ExpiresAt = expires.UTC()
	}
	if err := r.Store.CreateKey(ctx, k); err != nil {
		return "", err
	}
	return ak, r.record(ctx, store.KeyEvent{At: now, AccessKey: ak, System: s.Code, Action: store.KeyEventRegistered, Detail: keyDetail(AlgRSASHA256, k.ExpiresAt) + fmt.Sprintf(", %d-bit public key", pub.N.BitLen())})
}

// storedPublicKey is the PEM stored for a registered RSA key: the
// certificate alone when one was given (ParseRSAPublicKey reads it back),
// else the PKIX public key.
func storedPublicKey(given []byte, pub *rsa.PublicKey) []byte {
	if blk, _ := pem.Decode(given); blk != nil && blk.Type == "CERTIFICATE" {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: blk.Bytes})
	}
	return publicKeyPEM(pub)
}

// AllowAlg lets a system sign with alg (a registered algorithm), in
// addition to those it may use already.
func (r *Registry) AllowAlg(ctx context.Context, code, alg string) ([]string, error) {
	return r.changeAlgs(ctx, code, alg, true)
}

// DenyAlg stops a system from signing with alg: its keys of that algorithm
// are refused with auth.algorithm from then on. A system keeps at least one
// algorithm.
func (r *Registry) DenyAlg(ctx context.Context, code, alg string) ([]string, error) {
	return r.changeAlgs(ctx, code, alg, false)
}

func (r *Registry) changeAlgs(ctx context.Context, code, alg string, allow bool) ([]string, error) {
	defer r.changed()
	au, err := r.audit()
	if err != nil {
		return nil, err
	}
	if err := checkAlg(alg); err != nil {
		return nil, err
	}
	s, err := r.Store.GetSystem(ctx, strings.TrimSpace(code))
	if err != nil {
		return nil, err
	}
	algs := slices.Clone(AllowedAlgs(s))
	has := slices.Contains(algs, alg)
	switch {
	case allow && has, !allow && !has:
		return algs, nil
	case allow:
		algs = append(algs, alg)
	default:
		algs = slices.DeleteFunc(algs, func(a string) bool { return a == alg })
		if len(algs) == 0 {
			return nil, bus.ErrBadRequest.New("system %s must keep at least one algorithm", s.Code)
		}
	}
	slices.Sort(algs)
	verb := "allowed "
	if !allow {
		verb = "denied "
	}
	ev := store.KeyEvent{At: r.now().UTC(), System: s.Code, Action: store.KeyEventAlgs, Actor: ActorOf(ctx), Detail: verb + alg + "; now " + strings.Join(algs, ",")}
	if err := au.SetSystemAlgs(ctx, s.Code, algs, ev); err != nil {
		return nil, err
	}
	return algs, nil
}

// History returns the audit record of a system's keys, oldest first (at
// most limit of the newest; ≤ 0: 100). bus.ErrSystemNotFound if there is
// no such system.
func (r *Registry) History(ctx context.Context, code string, limit int) ([]store.KeyEvent, error) {
	au, err := r.audit()
	if err != nil {
		return nil, err
	}
	code = strings.TrimSpace(code)
	if _, err := r.Store.GetSystem(ctx, code); err != nil {
		return nil, err
	}
	return au.KeyEvents(ctx, code, limit)
}
