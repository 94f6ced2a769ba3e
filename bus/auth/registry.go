package auth

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// RegistryStore is what the Registry needs from the store; store.Store
// satisfies it.
type RegistryStore interface {
	CreateSystem(ctx context.Context, s store.System) error           // bus.ErrSystemExists
	GetSystem(ctx context.Context, code string) (store.System, error) // bus.ErrSystemNotFound
	ListSystems(ctx context.Context) ([]store.System, error)
	UpdateSystem(ctx context.Context, s store.System) error // bus.ErrSystemNotFound
	CreateKey(ctx context.Context, k store.Key) error
	GetKey(ctx context.Context, accessKey string) (store.Key, error) // bus.ErrKeyNotFound
	ListKeys(ctx context.Context, systemCode string) ([]store.Key, error)
	RevokeKey(ctx context.Context, accessKey string, at time.Time) error // bus.ErrKeyNotFound
}

// Registry manages connected systems and their key pairs (C4, R7, Art. 8).
type Registry struct {
	Store RegistryStore
	Vault *vault.Vault // seals secrets
	Now   func() time.Time
	// Audit records who issued, rotated and revoked keys (M6) and keeps
	// the systems' allowed algorithms; store.Store satisfies it. Without
	// it nothing is recorded, and RotateKey, AllowAlg, DenyAlg and History
	// fail.
	Audit AuditStore
	// OnChange, if set, runs after every change to a key or a system
	// (suspend, resume, revoke, rotate, algorithms): the node flushes its
	// KeyCache there.
	OnChange func()
	// Outbound is the policy of webhook targets; a webhook URL whose host
	// is an address it refuses is refused at registration
	// (bus.ErrOutboundRefused). Nil means the default: public addresses only.
	Outbound *bus.OutboundPolicy
}

// Warnings AddSystem may return.
const (
	WarnDottedCode = "identifier uses the QĐ 20/2020 dotted form, not the QCVN 102:2016 form LLL.KK.JJ.XNN; check it with the Department before exchanging with systems that expect the legacy form"
)

// Limits of system fields, in characters.
const maxSystemField = 255

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// AddSystem registers a system with status active. Code is checked with
// bus.ParseSystemCode (bus.ErrInvalidCode); a code in the dotted form is
// accepted with a warning. Text fields are trimmed; Name is required and
// WebhookURL, if set, must be an absolute http or https URL
// (bus.ErrInvalidSystem) whose host, if an address literal, the outbound
// policy allows (bus.ErrOutboundRefused). A code already registered gives
// bus.ErrSystemExists. The stored system is returned.
func (r *Registry) AddSystem(ctx context.Context, s store.System) (store.System, []string, error) {
	s.Code = strings.TrimSpace(s.Code)
	s.Name = strings.TrimSpace(s.Name)
	s.Unit = strings.TrimSpace(s.Unit)
	s.Contact = strings.TrimSpace(s.Contact)
	s.WebhookURL = strings.TrimSpace(s.WebhookURL)
	var warnings []string
	form, err := bus.ParseSystemCode(s.Code)
	if err != nil {
		return store.System{}, nil, err
	}
	if form == bus.CodeDotted {
		warnings = append(warnings, WarnDottedCode)
	}
	if s.Name == "" {
		return store.System{}, nil, bus.ErrInvalidSystem.New("name is required")
	}
	for _, f := range []struct{ name, v string }{{"name", s.Name}, {"unit", s.Unit}, {"contact", s.Contact}} {
		if err := checkText(f.name, f.v); err != nil {
			return store.System{}, nil, err
		}
	}
	if s.WebhookURL != "" {
		if err := checkWebhookURL(s.WebhookURL); err != nil {
			return store.System{}, nil, err
		}
		if err := r.outbound().CheckURL(s.WebhookURL); err != nil {
			return store.System{}, nil, err
		}
	}
	now := r.now().UTC()
	s.Status = store.SystemActive
	s.CreatedAt, s.UpdatedAt = now, now
	if err := r.Store.CreateSystem(ctx, s); err != nil {
		return store.System{}, nil, err
	}
	return s, warnings, nil
}

var defaultOutbound = &bus.OutboundPolicy{}

func (r *Registry) outbound() *bus.OutboundPolicy {
	if r.Outbound == nil {
		return defaultOutbound
	}
	return r.Outbound
}

func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return bus.ErrInvalidSystem.New("%s is not valid UTF-8", field)
	}
	if utf8.RuneCountInString(v) > maxSystemField {
		return bus.ErrInvalidSystem.New("%s is longer than %d characters", field, maxSystemField)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return bus.ErrInvalidSystem.New("%s contains a control character", field)
	}
	return nil
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return bus.ErrInvalidSystem.New("webhook URL %q is not a URL", clip(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return bus.ErrInvalidSystem.New("webhook URL %q must be an absolute http:// or https:// URL", clip(raw))
	}
	if u.User != nil {
		return bus.ErrInvalidSystem.New("webhook URL must not carry a user or password")
	}
	if u.Fragment != "" {
		return bus.ErrInvalidSystem.New("webhook URL must not have a #fragment")
	}
	return nil
}

// SetWebhook sets, changes or (with "") removes the webhook URL of a
// registered system. The URL is checked as AddSystem checks it, the
// outbound policy included (bus.ErrInvalidSystem, bus.ErrOutboundRefused);
// a refusal leaves the stored URL as it was. Deliveries read the URL from
// the store on every attempt, so pending ones go to the new URL.
func (r *Registry) SetWebhook(ctx context.Context, code, webhookURL string) (store.System, error) {
	webhookURL = strings.TrimSpace(webhookURL)
	if webhookURL != "" {
		if err := checkWebhookURL(webhookURL); err != nil {
			return store.System{}, err
		}
		if err := r.outbound().CheckURL(webhookURL); err != nil {
			return store.System{}, err
		}
	}
	s, err := r.Store.GetSystem(ctx, strings.TrimSpace(code))
	if err != nil {
		return store.System{}, err
	}
	defer r.changed()
	s.WebhookURL = webhookURL
	s.UpdatedAt = r.now().UTC()
	if err := r.Store.UpdateSystem(ctx, s); err != nil {
		return store.System{}, err
	}
	return s, nil
}

// Suspend stops a system from connecting: its signed requests are refused
// with auth.system_suspended until Resume. Suspending a suspended system
// is not an error.
func (r *Registry) Suspend(ctx context.Context, code string) error {
	return r.setStatus(ctx, code, store.SystemSuspended)
}

// Resume lets a suspended system connect again.
func (r *Registry) Resume(ctx context.Context, code string) error {
	return r.setStatus(ctx, code, store.SystemActive)
}

func (r *Registry) setStatus(ctx context.Context, code, status string) error {
	defer r.changed()
	s, err := r.Store.GetSystem(ctx, strings.TrimSpace(code))
	if err != nil {
		return err
	}
	if s.Status == status {
		return nil
	}
	s.Status = status
	s.UpdatedAt = r.now().UTC()
	return r.Store.UpdateSystem(ctx, s)
}

// Get returns a system (bus.ErrSystemNotFound).
func (r *Registry) Get(ctx context.Context, code string) (store.System, error) {
	return r.Store.GetSystem(ctx, strings.TrimSpace(code))
}

// List returns every registered system.
func (r *Registry) List(ctx context.Context) ([]store.System, error) {
	return r.Store.ListSystems(ctx)
}

// IssueKey creates a key pair for a registered system and returns it. The
// secret is returned only here: it is stored sealed with the master key and
// cannot be read back. The access key is "AK" and 20 base32 characters
// (96 random bits); the secret has 256 random bits (52 characters).
// A zero expires means the key does not expire; an expiry in the past is
// bus.ErrBadRequest. A suspended system can get keys (to prepare a
// rotation); they work once it is resumed.
func (r *Registry) IssueKey(ctx context.Context, code string, expires time.Time) (accessKey, secret string, err error) {
	return r.IssueKeyAlg(ctx, code, AlgHMACSHA256, expires)
}

// IssueKeyAlg is IssueKey for an HMAC algorithm the system is allowed to
// use (AlgHMACSHA256 or AlgHMACSHA1); any other is bus.ErrBadRequest. The
// issue is recorded in the audit of keys with the actor of ctx.
func (r *Registry) IssueKeyAlg(ctx context.Context, code, alg string, expires time.Time) (accessKey, secret string, err error) {
	if alg != AlgHMACSHA256 && alg != AlgHMACSHA1 {
		return "", "", bus.ErrBadRequest.New("keys with a secret are issued for %s or %s; for %s register the system's public key", AlgHMACSHA256, AlgHMACSHA1, AlgRSASHA256)
	}
	if r.Vault == nil {
		return "", "", bus.ErrInternal.New("registry has no vault")
	}
	s, err := r.Store.GetSystem(ctx, strings.TrimSpace(code))
	if err != nil {
		return "", "", err
	}
	if !AlgAllowed(s, alg) {
		return "", "", bus.ErrBadRequest.New("system %s may not sign with %s (allowed: %s): allow it first", s.Code, alg, strings.Join(AllowedAlgs(s), ", "))
	}
	now := r.now().UTC()
	if !expires.IsZero() && !expires.After(now) {
		return "", "", bus.ErrBadRequest.New("key expiry %s is not in the future", expires.UTC().Format(time.RFC3339))
	}
	accessKey = "AK" + bus.RandomToken(12)
	secret = bus.RandomToken(32)
	k := store.Key{
		AccessKey:  accessKey,
		SystemCode: s.Code,
		Alg:        alg,
		Kind:       store.KeyShared,
		SecretEnc:  r.Vault.Seal([]byte(secret), SecretAAD(accessKey)),
		Status:     store.KeyActive,
		CreatedAt:  now,
	}
	if !expires.IsZero() {
		k.ExpiresAt = expires.UTC()
	}
	if err := r.Store.CreateKey(ctx, k); err != nil {
		return "", "", err
	}
	if err := r.record(ctx, store.KeyEvent{At: now, AccessKey: accessKey, System: s.Code, Action: store.KeyEventIssued, Detail: keyDetail(alg, k.ExpiresAt)}); err != nil {
		return "", "", err
	}
	return accessKey, secret, nil
}

// RevokeKey revokes an access key at once (bus.ErrKeyNotFound). Requests
// signed with it are refused with auth.key_revoked.
func (r *Registry) RevokeKey(ctx context.Context, accessKey string) error {
	defer r.changed()
	accessKey = strings.TrimSpace(accessKey)
	now := r.now().UTC()
	if err := r.Store.RevokeKey(ctx, accessKey, now); err != nil {
		return err
	}
	k, err := r.Store.GetKey(ctx, accessKey)
	if err != nil {
		return err
	}
	return r.record(ctx, store.KeyEvent{At: now, AccessKey: accessKey, System: k.SystemCode, Action: store.KeyEventRevoked})
}

// Keys lists the keys of a system (bus.ErrSystemNotFound if there is no such
// system). The sealed secrets are left out: nobody above the verifier needs
// them.
func (r *Registry) Keys(ctx context.Context, code string) ([]store.Key, error) {
	code = strings.TrimSpace(code)
	if _, err := r.Store.GetSystem(ctx, code); err != nil {
		return nil, err
	}
	ks, err := r.Store.ListKeys(ctx, code)
	if err != nil {
		return nil, err
	}
	for i := range ks {
		ks[i].SecretEnc = nil // listings never carry sealed secrets
	}
	return ks, nil
}

// changed tells the node's caches (Registry.OnChange) that a key or system
// changed.
func (r *Registry) changed() {
	if r.OnChange != nil {
		r.OnChange()
	}
}
