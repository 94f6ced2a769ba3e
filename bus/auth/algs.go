package auth

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// The other algorithms of C4. They share the canonical request of
// LGSP-HMAC-SHA256 (its first line is the algorithm's name) and the
// Authorization header; the signature is lower-case hex for all three.
const (
	// AlgHMACSHA1 is HMAC-SHA1 keyed with the secret, for legacy peers that
	// cannot compute SHA-256. A system may use it only once an operator
	// allowed it (off by default).
	AlgHMACSHA1 = "LGSP-HMAC-SHA1"
	// AlgRSASHA256 is RSASSA-PKCS1-v1_5 with SHA-256 (what `openssl dgst
	// -sha256 -sign` makes): the system keeps the private key and the
	// platform holds only its public key, so no secret is shared.
	AlgRSASHA256 = "LGSP-RSA-SHA256"
)

// MinRSABits is the smallest RSA modulus accepted for LGSP-RSA-SHA256.
const MinRSABits = 2048

func init() {
	RegisterAlgorithm(hmacAlg{name: AlgHMACSHA1, hash: sha1.New})
	RegisterAlgorithm(rsaAlg{})
}

// rsaAlg signs with a PEM private key (PKCS#8 or PKCS#1) and verifies with
// a PEM public key (PKIX) or X.509 certificate. Parsed public keys are
// cached: the verifier hands it the same PEM bytes for every request of a
// key.
type rsaAlg struct{}

func (rsaAlg) Name() string { return AlgRSASHA256 }

func (rsaAlg) Sign(key, canonical []byte) ([]byte, error) {
	priv, err := ParseRSAPrivateKey(key)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(canonical)
	return rsa.SignPKCS1v15(nil, priv, crypto.SHA256, h[:])
}

func (rsaAlg) Verify(key, canonical, sig []byte) bool {
	pub, err := cachedPublicKey(key)
	if err != nil {
		return false
	}
	h := sha256.Sum256(canonical)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
}

var (
	pubMu    sync.Mutex
	pubCache = map[string]*rsa.PublicKey{}
)

// maxPubCache bounds the parsed-key cache; it is emptied when full.
const maxPubCache = 4096

func cachedPublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	pubMu.Lock()
	pub, ok := pubCache[string(pemBytes)]
	pubMu.Unlock()
	if ok {
		return pub, nil
	}
	pub, err := ParseRSAPublicKey(pemBytes)
	if err != nil {
		return nil, err
	}
	pubMu.Lock()
	if len(pubCache) >= maxPubCache {
		clear(pubCache)
	}
	pubCache[string(pemBytes)] = pub
	pubMu.Unlock()
	return pub, nil
}

// ErrBadPublicKey is the cause of errors about a public key file.
var ErrBadPublicKey = errors.New("not an RSA public key")

// ParseRSAPublicKey reads the first PEM block of b: a "PUBLIC KEY" (PKIX),
// an "RSA PUBLIC KEY" (PKCS#1) or a "CERTIFICATE" (its subject's key). The
// key must be RSA with at least MinRSABits bits.
func ParseRSAPublicKey(b []byte) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrBadPublicKey)
	}
	var k any
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
			k = c.PublicKey
		}
	default:
		return nil, fmt.Errorf("%w: PEM block is %q (expected PUBLIC KEY or CERTIFICATE)", ErrBadPublicKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPublicKey, err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the key is %T", ErrBadPublicKey, k)
	}
	if pub.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("%w: %d bits, at least %d required", ErrBadPublicKey, pub.N.BitLen(), MinRSABits)
	}
	return pub, nil
}

// ParseRSAPrivateKey reads a PEM "PRIVATE KEY" (PKCS#8) or "RSA PRIVATE
// KEY" (PKCS#1), as `openssl genpkey` and older tools write them.
func ParseRSAPrivateKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block in the private key")
	}
	switch blk.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		priv, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, not RSA", k)
		}
		return priv, nil
	}
	return nil, fmt.Errorf("PEM block is %q, not a private key", blk.Type)
}

var fingerprintEnc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// RSAAccessKey returns the access key that identifies pub: "RK" and 20
// characters of the SHA-256 of its PKIX (SubjectPublicKeyInfo) encoding.
// The same public key always gets the same access key, so it cannot be
// registered twice.
func RSAAccessKey(pub *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return "RK" + strings.ToUpper(fingerprintEnc.EncodeToString(sum[:12]))
}

// publicKeyPEM is the normal form the registry stores: a PKIX "PUBLIC KEY".
func publicKeyPEM(pub *rsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// AllowedAlgs returns the algorithms sys may sign with: its Algs, or
// AlgHMACSHA256 alone when none were set.
func AllowedAlgs(sys store.System) []string {
	if len(sys.Algs) == 0 {
		return []string{store.DefaultAlg}
	}
	return sys.Algs
}

// AlgAllowed reports whether sys may sign with alg.
func AlgAllowed(sys store.System, alg string) bool {
	return slices.Contains(AllowedAlgs(sys), alg)
}

// checkAlg refuses a name that is not a registered algorithm.
func checkAlg(alg string) error {
	if _, ok := LookupAlgorithm(alg); !ok {
		return bus.ErrBadRequest.New("algorithm %q is not supported (supported: %s)", clip(alg), strings.Join(Algorithms(), ", "))
	}
	return nil
}
