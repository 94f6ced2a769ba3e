package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// KeyStore is what the verifier needs from the store; store.Store satisfies
// it.
type KeyStore interface {
	GetKey(ctx context.Context, accessKey string) (store.Key, error)  // bus.ErrKeyNotFound
	GetSystem(ctx context.Context, code string) (store.System, error) // bus.ErrSystemNotFound
}

// Principal is the system a verified request comes from.
type Principal struct {
	SystemCode string
	AccessKey  string
	Alg        string
	System     store.System
	// SignedAt is the request's X-LGSP-Timestamp.
	SignedAt time.Time
	// Nonce is the request's X-LGSP-Nonce, already recorded as used.
	Nonce string
	// BodySHA256 is the signed X-LGSP-Content-SHA256. Verify does not read
	// the body: wrap it with VerifyBody(r.Body, p.BodySHA256, …).
	BodySHA256 string
}

// Verifier checks signed requests. Its fields are set once before use; it
// is then safe for concurrent use.
type Verifier struct {
	Keys   KeyStore
	Vault  *vault.Vault // opens sealed secrets
	Nonces NonceCache   // required: without it replays could not be refused
	Skew   time.Duration
	// NotBefore, when set, refuses requests signed before it with
	// auth.clock_skew: a node whose replay cache lives in memory sets it to
	// its start after an unclean stop, when the nonces of the requests
	// accepted before the stop are lost — a captured request signed
	// before the start could otherwise be replayed within the skew.
	NotBefore time.Time
	Now       func() time.Time
	// Limits, when set, applies per-key rate limits and locks a key after a
	// burst of bad signatures (M3).
	Limits *Limits
	// Algorithms are the signature algorithms accepted; nil is
	// DefaultAlgorithms (a node passes its environment's).
	Algorithms *AlgorithmRegistry
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) skew() time.Duration {
	if v.Skew > 0 {
		return v.Skew
	}
	return DefaultSkew
}

// Verify checks the signature of r and returns who sent it. It does not
// read the body (see VerifyBody). Every error is from the bus catalogue:
//
//	auth.missing         no Authorization header
//	auth.malformed       bad Authorization, missing or bad X-LGSP-* header
//	auth.algorithm       algorithm unknown, or not the one of the access key
//	auth.clock_skew      |now − timestamp| > Skew
//	auth.unknown_key     no such access key (or its system is gone)
//	auth.bad_signature   the signature does not match
//	auth.key_revoked     the key was revoked
//	auth.key_expired     the key expired
//	auth.system_suspended the key's system is suspended
//	auth.algorithm       the key's system is not allowed the algorithm
//	auth.locked          the key is locked after bad signatures (Limits)
//	auth.rate_limited    the key exceeds its rate (Limits)
//	auth.replay          the nonce was used before by this key
//	system.busy          the replay cache is full (retry later)
//	system.unavailable   the store failed
//
// Checks that need no store come first, so a flood of stale or malformed
// requests never reaches the database. Key status and system status are
// told only to a caller whose signature is good, so they leak nothing to
// someone who merely knows an access key. The nonce is recorded last, once
// the request is known to be genuine, so nobody without the secret can use
// up a client's nonces.
func (v *Verifier) Verify(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	hs := r.Header.Values(HeaderAuthorization)
	if len(hs) == 0 || len(hs) == 1 && hs[0] == "" {
		return nil, bus.ErrAuthMissing.New("send an %s header: %s Credential=…, SignedHeaders=…, Signature=…", HeaderAuthorization, AlgHMACSHA256)
	}
	if len(hs) > 1 {
		return nil, bus.ErrAuthMalformed.New("more than one %s header", HeaderAuthorization)
	}
	az, err := ParseAuthorization(hs[0])
	if err != nil {
		return nil, err
	}
	alg, ok := v.Algorithms.Lookup(az.Alg)
	if !ok {
		return nil, bus.ErrAuthAlgorithm.New("algorithm %s is not supported (supported: %v)", az.Alg, v.Algorithms.Names())
	}
	ts, err := single(r, HeaderTimestamp)
	if err != nil {
		return nil, err
	}
	if err := checkTimestamp(ts); err != nil {
		return nil, err
	}
	nonce, err := single(r, HeaderNonce)
	if err != nil {
		return nil, err
	}
	if err := checkNonce(nonce); err != nil {
		return nil, err
	}
	bodyHash, err := single(r, HeaderContentSHA256)
	if err != nil {
		return nil, err
	}
	if err := checkBodyHash(bodyHash); err != nil {
		return nil, err
	}

	canonical, err := CanonicalRequestFor(az.Alg, r, az.SignedHeaders, ts, nonce, bodyHash)
	if err != nil {
		return nil, err
	}

	now := v.now()
	sec, _ := strconv.ParseInt(ts, 10, 64) // ≤ 18 digits: cannot overflow
	signedAt := time.Unix(sec, 0)
	skew := v.skew()
	if d := now.Sub(signedAt); d > skew || d < -skew {
		e := bus.ErrAuthClockSkew.New("%s is %s, the platform's clock says %d: allowed difference is %d seconds", HeaderTimestamp, ts, now.Unix(), int64(skew/time.Second))
		if sec > 100_000_000_000 {
			e.Detail += "; the value looks like milliseconds, send seconds"
		}
		return nil, e
	}
	if signedAt.Before(v.NotBefore) {
		return nil, bus.ErrAuthClockSkew.New("%s is %s, before %d when this node started again after an unclean stop: it cannot tell such a request from a replay; sign it again with the current time (and check the client's clock)", HeaderTimestamp, ts, v.NotBefore.Unix())
	}

	if v.Keys == nil || v.Vault == nil || v.Nonces == nil {
		return nil, bus.ErrInternal.New("verifier is not configured")
	}
	// A key locked for this client address is refused before any work,
	// even with a good signature.
	if err := v.Limits.CheckLocked(az.AccessKey, r.RemoteAddr); err != nil {
		return nil, err
	}
	k, err := v.Keys.GetKey(ctx, az.AccessKey)
	if errors.Is(err, bus.ErrKeyNotFound.Err()) {
		return nil, bus.ErrAuthUnknownKey.New("access key %s", az.AccessKey)
	}
	if err != nil {
		return nil, storeFault(err, "reading access key")
	}
	// A public key offered under an algorithm of shared secrets is refused
	// as such: it must never act as an HMAC key.
	material, err := verifyMaterial(v.Vault, k, az.Alg)
	if err != nil {
		return nil, err
	}
	if keyAlg := keyAlgOf(k); keyAlg != az.Alg {
		clear(material)
		return nil, bus.ErrAuthAlgorithm.New("access key %s signs with %s, not %s", k.AccessKey, keyAlg, az.Alg)
	}
	ok = alg.Verify(material, []byte(canonical), az.Signature)
	clear(material)
	if !ok {
		v.Limits.Failure(ctx, k.AccessKey, k.SystemCode, r.RemoteAddr)
		return nil, bus.ErrAuthBadSignature.New("the platform signed this canonical request: %q", canonical)
	}

	sys, err := KeyStanding(ctx, v.Keys, k, now)
	if err != nil {
		return nil, err
	}
	if err := v.Limits.Allow(k.AccessKey); err != nil {
		return nil, err
	}

	// The nonce must be remembered for as long as the timestamp is inside
	// the window: until signedAt+skew (and one second more, for the
	// boundary).
	fresh, err := v.Nonces.Use(ctx, k.AccessKey, nonce, signedAt.Add(skew+time.Second))
	if err != nil {
		return nil, storeFault(err, "recording nonce")
	}
	if !fresh {
		return nil, bus.ErrAuthReplay.New("nonce %s was already used by access key %s", nonce, k.AccessKey)
	}
	return &Principal{
		SystemCode: sys.Code,
		AccessKey:  k.AccessKey,
		Alg:        az.Alg,
		System:     sys,
		SignedAt:   signedAt,
		Nonce:      nonce,
		BodySHA256: bodyHash,
	}, nil
}

// single returns the only value of a required header.
func single(r *http.Request, name string) (string, error) {
	vs := r.Header.Values(name)
	switch len(vs) {
	case 0:
		return "", bus.ErrAuthMalformed.New("missing %s header", name)
	case 1:
		return vs[0], nil
	default:
		return "", bus.ErrAuthMalformed.New("more than one %s header", name)
	}
}

// storeFault keeps catalogue errors and turns anything else into
// system.unavailable: the caller may retry, and the cause is logged.
func storeFault(err error, doing string) error {
	var e *bus.Error
	if errors.As(err, &e) {
		return e
	}
	return bus.ErrUnavailable.Wrap(err, "%s", doing)
}

// keyAlgOf returns the algorithm of k (AlgHMACSHA256 when unset).
func keyAlgOf(k store.Key) string {
	if k.Alg == "" {
		return AlgHMACSHA256
	}
	return k.Alg
}

// KeyStanding checks that a key may be used at now — not revoked, not
// expired, its system registered and active, and the key's algorithm still
// among those the system is allowed — and returns the system. Every way of
// authenticating a system (signatures, UsernameTokens, bearer tokens
// already issued, the lgspaccesstoken header, sessions) goes through it,
// so a revocation, a suspension or a denied algorithm holds for all.
func KeyStanding(ctx context.Context, keys KeyStore, k store.Key, now time.Time) (store.System, error) {
	if k.Status == store.KeyRevoked || !k.RevokedAt.IsZero() {
		return store.System{}, bus.ErrAuthKeyRevoked.New("access key %s was revoked", k.AccessKey)
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return store.System{}, bus.ErrAuthKeyExpired.New("access key %s expired at %s", k.AccessKey, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	sys, err := keys.GetSystem(ctx, k.SystemCode)
	if errors.Is(err, bus.ErrSystemNotFound.Err()) {
		return sys, bus.ErrAuthUnknownKey.New("access key %s belongs to no registered system", k.AccessKey)
	}
	if err != nil {
		return sys, storeFault(err, "reading system")
	}
	if sys.Status != store.SystemActive {
		return sys, bus.ErrAuthSuspended.New("system %s is %s", sys.Code, sys.Status)
	}
	if alg := keyAlgOf(k); !AlgAllowed(sys, alg) {
		return sys, bus.ErrAuthAlgorithm.New("system %s may not use keys of %s any more (allowed: %v)", sys.Code, alg, AllowedAlgs(sys))
	}
	if err := CheckClientCert(ctx, sys, now); err != nil {
		return sys, err
	}
	return sys, nil
}
