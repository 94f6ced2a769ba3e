package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// Header names of the signature protocol.
const (
	HeaderAuthorization = "Authorization"
	HeaderTimestamp     = "X-LGSP-Timestamp"
	HeaderNonce         = "X-LGSP-Nonce"
	HeaderContentSHA256 = "X-LGSP-Content-SHA256"
)

// AlgHMACSHA256 is the name of the default signature algorithm; it is the
// scheme of the Authorization header and the first line of the canonical
// request.
const AlgHMACSHA256 = "LGSP-HMAC-SHA256"

// EmptySHA256 is the lower-case hex SHA-256 of the empty string: the value
// of X-LGSP-Content-SHA256 for a request without a body.
const EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// DefaultSkew is the clock skew allowed between a request's timestamp and
// the platform's clock when Verifier.Skew is zero.
const DefaultSkew = 5 * time.Minute

// Limits of the protocol. They bound the work done on a request before its
// signature is known to be good.
const (
	MinNonceLen         = 16
	MaxNonceLen         = 64
	MaxSignedHeaders    = 32
	maxAuthorizationLen = 4096
	maxAccessKeyLen     = 128
)

// Algorithm is one signature algorithm over the canonical request. Key is
// the key material of an access key: the secret for HMAC algorithms (the
// UTF-8 bytes of secret_key), and, for public-key algorithms added later,
// the private key when signing and the public key when verifying.
// Signatures travel as lower-case hex; Sign and Verify see raw bytes.
type Algorithm interface {
	// Name is the scheme of the Authorization header, e.g. "LGSP-HMAC-SHA256".
	Name() string
	// Sign returns the signature of canonical under key.
	Sign(key, canonical []byte) ([]byte, error)
	// Verify reports whether sig is a signature of canonical under key. It
	// must compare in constant time.
	Verify(key, canonical, sig []byte) bool
}

// AlgorithmRegistry holds signature algorithms by name. A node uses the
// one of its environment (bus/service.Environment); DefaultAlgorithms is
// the one filled by init functions, which the package functions use.
type AlgorithmRegistry struct {
	mu   sync.RWMutex
	algs map[string]Algorithm
}

// NewAlgorithmRegistry returns an empty registry.
func NewAlgorithmRegistry() *AlgorithmRegistry {
	return &AlgorithmRegistry{algs: map[string]Algorithm{}}
}

// DefaultAlgorithms is the registry of RegisterAlgorithm.
var DefaultAlgorithms = NewAlgorithmRegistry()

// Register makes an algorithm available under its name. It panics if the
// name is taken or not of the form LGSP-…; call it from init.
func (r *AlgorithmRegistry) Register(a Algorithm) {
	name := a.Name()
	if !validScheme(name) {
		panic("auth: invalid algorithm name " + strconv.Quote(name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.algs[name]; dup {
		panic("auth: duplicate algorithm " + name)
	}
	r.algs[name] = a
}

// Lookup returns the algorithm registered under name; a nil registry is
// DefaultAlgorithms.
func (r *AlgorithmRegistry) Lookup(name string) (Algorithm, bool) {
	if r == nil {
		r = DefaultAlgorithms
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.algs[name]
	return a, ok
}

// Names returns the names of the registered algorithms, sorted; a nil
// registry is DefaultAlgorithms.
func (r *AlgorithmRegistry) Names() []string {
	if r == nil {
		r = DefaultAlgorithms
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.algs))
	for n := range r.algs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RegisterAlgorithm adds a to DefaultAlgorithms (see Register); call it
// from init.
func RegisterAlgorithm(a Algorithm) { DefaultAlgorithms.Register(a) }

// LookupAlgorithm returns the algorithm registered under name in
// DefaultAlgorithms.
func LookupAlgorithm(name string) (Algorithm, bool) { return DefaultAlgorithms.Lookup(name) }

// Algorithms returns the names of the algorithms of DefaultAlgorithms,
// sorted.
func Algorithms() []string { return DefaultAlgorithms.Names() }

// hmacAlg is an HMAC over the canonical request; LGSP-HMAC-SHA1 (issue #3)
// is the same type with sha1.New.
type hmacAlg struct {
	name string
	hash func() hash.Hash
}

func (a hmacAlg) Name() string { return a.name }

func (a hmacAlg) Sign(key, canonical []byte) ([]byte, error) {
	m := hmac.New(a.hash, key)
	m.Write(canonical)
	return m.Sum(nil), nil
}

func (a hmacAlg) Verify(key, canonical, sig []byte) bool {
	want, _ := a.Sign(key, canonical)
	return hmac.Equal(want, sig)
}

func init() {
	RegisterAlgorithm(hmacAlg{name: AlgHMACSHA256, hash: sha256.New})
}

// HashBody returns the lower-case hex SHA-256 of body, the value of
// X-LGSP-Content-SHA256.
func HashBody(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// SecretAAD is the associated data used when sealing the secret of an access
// key with the vault, so a sealed secret cannot be moved to another key.
func SecretAAD(accessKey string) []byte { return []byte("secret:" + accessKey) }

// Authorization is a parsed Authorization header.
type Authorization struct {
	Alg           string   // scheme, e.g. LGSP-HMAC-SHA256
	AccessKey     string   // Credential
	SignedHeaders []string // lower-case, strictly ascending; may be empty
	Signature     []byte   // decoded from lower-case hex
}

// String formats a as an Authorization header value.
func (a Authorization) String() string {
	return a.Alg + " Credential=" + a.AccessKey + ", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + hex.EncodeToString(a.Signature)
}

// ParseAuthorization parses the value of an Authorization header:
//
//	LGSP-HMAC-SHA256 Credential=<access_key>, SignedHeaders=<a;b>, Signature=<hex>
//
// The three parameters must each appear once, in any order, separated by
// commas with optional spaces. Errors are bus.ErrAuthMalformed with a detail
// that names the problem. The scheme is checked for shape only; whether the
// algorithm is supported is the verifier's business.
func ParseAuthorization(h string) (Authorization, error) {
	var a Authorization
	if len(h) > maxAuthorizationLen {
		return a, bus.ErrAuthMalformed.New("Authorization header is longer than %d bytes", maxAuthorizationLen)
	}
	h = strings.Trim(h, " \t")
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !validScheme(scheme) {
		return a, bus.ErrAuthMalformed.New(`Authorization must be "<algorithm> Credential=…, SignedHeaders=…, Signature=…" with an algorithm such as %s`, AlgHMACSHA256)
	}
	a.Alg = scheme
	var seen [3]bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " \t")
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return a, bus.ErrAuthMalformed.New("Authorization parameter %q is not name=value", clip(part))
		}
		switch k {
		case "Credential":
			if seen[0] {
				return a, bus.ErrAuthMalformed.New("Authorization repeats Credential")
			}
			seen[0] = true
			if !validAccessKey(v) {
				return a, bus.ErrAuthMalformed.New("Credential must be an access key of 1 to %d letters, digits, '-', '_' or '.'", maxAccessKeyLen)
			}
			a.AccessKey = v
		case "SignedHeaders":
			if seen[1] {
				return a, bus.ErrAuthMalformed.New("Authorization repeats SignedHeaders")
			}
			seen[1] = true
			names, err := parseSignedHeaders(v)
			if err != nil {
				return a, err
			}
			a.SignedHeaders = names
		case "Signature":
			if seen[2] {
				return a, bus.ErrAuthMalformed.New("Authorization repeats Signature")
			}
			seen[2] = true
			if v == "" || len(v)%2 != 0 || !isLowerHex(v) {
				return a, bus.ErrAuthMalformed.New("Signature must be lower-case hex")
			}
			a.Signature, _ = hex.DecodeString(v)
		default:
			return a, bus.ErrAuthMalformed.New("unknown Authorization parameter %q (expected Credential, SignedHeaders, Signature)", clip(k))
		}
	}
	switch {
	case !seen[0]:
		return a, bus.ErrAuthMalformed.New("Authorization lacks Credential")
	case !seen[1]:
		return a, bus.ErrAuthMalformed.New("Authorization lacks SignedHeaders (it may be empty: SignedHeaders=)")
	case !seen[2]:
		return a, bus.ErrAuthMalformed.New("Authorization lacks Signature")
	}
	return a, nil
}

// parseSignedHeaders splits "a;b;c" and checks the names.
func parseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	names := strings.Split(v, ";")
	if err := checkSignedHeaders(names); err != nil {
		return nil, err
	}
	return names, nil
}

// checkSignedHeaders enforces the rules on signed header names: lower-case
// HTTP tokens, strictly ascending (so sorted and without duplicates), at most
// MaxSignedHeaders, and never "authorization" (a signature cannot cover
// itself).
func checkSignedHeaders(names []string) error {
	if len(names) > MaxSignedHeaders {
		return bus.ErrAuthMalformed.New("at most %d headers can be signed", MaxSignedHeaders)
	}
	for i, n := range names {
		if !validHeaderName(n) {
			return bus.ErrAuthMalformed.New("signed header name %q must be a lower-case HTTP header name", clip(n))
		}
		if n == "authorization" {
			return bus.ErrAuthMalformed.New("the authorization header must not be signed")
		}
		if i > 0 && names[i-1] >= n {
			return bus.ErrAuthMalformed.New("SignedHeaders must be sorted and without duplicates (%q before %q)", names[i-1], n)
		}
	}
	return nil
}

// CanonicalRequest returns the canonical request of r for LGSP-HMAC-SHA256:
// the string the signature covers. ts, nonce and bodyHash are the values of
// the X-LGSP-* headers; signedHeaders are lower-case names, strictly
// ascending. Errors are bus.ErrAuthMalformed.
func CanonicalRequest(r *http.Request, signedHeaders []string, ts, nonce, bodyHash string) (string, error) {
	return CanonicalRequestFor(AlgHMACSHA256, r, signedHeaders, ts, nonce, bodyHash)
}

// CanonicalRequestFor is CanonicalRequest for another algorithm: every
// algorithm shares the canonical form; only its first line, the algorithm's
// name, differs, so a signature cannot be replayed under another algorithm.
func CanonicalRequestFor(alg string, r *http.Request, signedHeaders []string, ts, nonce, bodyHash string) (string, error) {
	if !validScheme(alg) {
		return "", bus.ErrAuthMalformed.New("invalid algorithm name %q", clip(alg))
	}
	if err := checkTimestamp(ts); err != nil {
		return "", err
	}
	if err := checkNonce(nonce); err != nil {
		return "", err
	}
	if err := checkBodyHash(bodyHash); err != nil {
		return "", err
	}
	if err := checkSignedHeaders(signedHeaders); err != nil {
		return "", err
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return "", bus.ErrAuthMalformed.New("invalid method %q", clip(method))
	}
	path, err := CanonicalPath(r.URL.EscapedPath())
	if err != nil {
		return "", err
	}
	query, err := CanonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(256)
	for _, s := range []string{alg, method, path, query} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	for i, name := range signedHeaders {
		v, ok := headerValue(r, name)
		if !ok {
			return "", bus.ErrAuthMalformed.New("signed header %q is not in the request or has a control character", name)
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(v)
	}
	b.WriteByte('\n')
	for _, s := range []string{strings.Join(signedHeaders, ";"), ts, nonce} {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	b.WriteString(bodyHash)
	return b.String(), nil
}

// headerValue returns the canonical value of a signed header: values
// trimmed, inner runs of spaces and tabs collapsed to one space, repeated
// headers joined with ",". The host header is r.Host (a server removes it
// from r.Header), or r.URL.Host on a client request without Host.
func headerValue(r *http.Request, name string) (string, bool) {
	var vals []string
	if name == "host" {
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		if h == "" {
			return "", false
		}
		vals = []string{h}
	} else {
		vals = r.Header.Values(name)
		if len(vals) == 0 {
			return "", false
		}
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		c, ok := collapseSpaces(v)
		if !ok {
			return "", false
		}
		out[i] = c
	}
	return strings.Join(out, ","), true
}

// collapseSpaces trims v and collapses inner runs of spaces and tabs to one
// space. It refuses control characters: an HTTP parser never lets them
// through, and a hand-built request that carries one cannot be put on one
// canonical line.
func collapseSpaces(v string) (string, bool) {
	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if c < 0x20 || c == 0x7f {
			return "", false
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	return b.String(), true
}

// CanonicalPath re-encodes an escaped URL path: each "/"-separated segment
// is percent-decoded and then encoded per RFC 3986 (unreserved characters
// A–Z a–z 0–9 - . _ ~ kept, every other byte as %XX upper-case). "+" in a
// path is a plus, not a space. An empty path becomes "/".
func CanonicalPath(escaped string) (string, error) {
	if escaped == "" {
		return "/", nil
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		d, err := url.PathUnescape(s)
		if err != nil {
			return "", bus.ErrAuthMalformed.New("path segment %q has an invalid percent-encoding", clip(s))
		}
		segs[i] = Escape(d)
	}
	return strings.Join(segs, "/"), nil
}

// CanonicalQuery re-encodes a raw query: it is split on "&" (empty pieces
// skipped), each piece at its first "=" into name and value, both
// form-decoded ("+" is a space, %XX a byte) and encoded with Escape; the
// pairs are sorted by encoded name, then encoded value, byte-wise, and joined
// as name=value with "&". A name without "=" gets an empty value.
func CanonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	type pair struct{ k, v string }
	var ps []pair
	for piece := range strings.SplitSeq(raw, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", bus.ErrAuthMalformed.New("query parameter %q has an invalid percent-encoding", clip(piece))
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", bus.ErrAuthMalformed.New("query parameter %q has an invalid percent-encoding", clip(piece))
		}
		ps = append(ps, pair{Escape(dk), Escape(dv)})
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

const hexUpper = "0123456789ABCDEF"

// Escape percent-encodes s per RFC 3986: unreserved characters (A–Z a–z
// 0–9 - . _ ~) are kept, every other byte becomes %XX with upper-case hex.
// It equals Python's urllib.parse.quote(s, safe="").
func Escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// Sign signs r for accessKey with LGSP-HMAC-SHA256: it sets
// X-LGSP-Timestamp (now, in Unix seconds), X-LGSP-Nonce, X-LGSP-Content-SHA256
// and Authorization, signing host and, if present, content-type. An empty
// bodySHA256Hex means no body (EmptySHA256); an empty nonce is replaced by a
// random one. Sign does not read r.Body: hash it with HashBody or while
// producing it.
func Sign(r *http.Request, accessKey, secret, bodySHA256Hex string, now time.Time, nonce string) error {
	return SignWith(AlgHMACSHA256, r, accessKey, []byte(secret), bodySHA256Hex, now, nonce)
}

// SignWith is Sign with another registered algorithm and raw key material.
func SignWith(alg string, r *http.Request, accessKey string, key []byte, bodySHA256Hex string, now time.Time, nonce string) error {
	a, ok := LookupAlgorithm(alg)
	if !ok {
		return bus.ErrAuthAlgorithm.New("algorithm %q is not supported", clip(alg))
	}
	if !validAccessKey(accessKey) {
		return bus.ErrAuthMalformed.New("invalid access key %q", clip(accessKey))
	}
	if bodySHA256Hex == "" {
		bodySHA256Hex = EmptySHA256
	}
	if nonce == "" {
		nonce = bus.RandomToken(16)
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	signed := []string{}
	if len(r.Header.Values("Content-Type")) > 0 {
		signed = append(signed, "content-type")
	}
	if _, ok := headerValue(r, "host"); ok {
		signed = append(signed, "host")
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	canonical, err := CanonicalRequestFor(alg, r, signed, ts, nonce, bodySHA256Hex)
	if err != nil {
		return err
	}
	sig, err := a.Sign(key, []byte(canonical))
	if err != nil {
		return err
	}
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderContentSHA256, bodySHA256Hex)
	r.Header.Set(HeaderAuthorization, Authorization{Alg: alg, AccessKey: accessKey, SignedHeaders: signed, Signature: sig}.String())
	return nil
}

func checkTimestamp(ts string) error {
	// Up to 18 digits parse as int64; milliseconds (13 digits) then reach
	// the clock check, whose detail tells the caller what went wrong.
	if ts == "" || len(ts) > 18 || !isDigits(ts) {
		return bus.ErrAuthMalformed.New("%s must be Unix time in seconds as decimal digits", HeaderTimestamp)
	}
	return nil
}

func checkNonce(n string) error {
	if len(n) < MinNonceLen || len(n) > MaxNonceLen {
		return bus.ErrAuthMalformed.New("%s must be %d to %d characters long", HeaderNonce, MinNonceLen, MaxNonceLen)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return bus.ErrAuthMalformed.New("%s may contain only A-Z a-z 0-9 - _", HeaderNonce)
		}
	}
	return nil
}

func checkBodyHash(h string) error {
	if len(h) != 2*sha256.Size || !isLowerHex(h) {
		return bus.ErrAuthMalformed.New("%s must be 64 lower-case hex digits (SHA-256 of the body; %s for no body)", HeaderContentSHA256, EmptySHA256)
	}
	return nil
}

func validScheme(s string) bool {
	if !strings.HasPrefix(s, "LGSP-") || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validAccessKey(s string) bool {
	if s == "" || len(s) > maxAccessKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is a lower-case HTTP token.
func validHeaderName(s string) bool {
	if !validToken(s) {
		return false
	}
	return strings.ToLower(s) == s
}

// validToken reports whether s is an RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens an echoed value so details stay short.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
