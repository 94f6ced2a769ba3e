package qlvb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	gsoap "github.com/hooklift/gowsdl/soap"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

const (
	// Path is where the service is mounted; the WSDL is at Path?wsdl.
	Path = "/soap/edoc"
	// DataType is the data type of the exchanges sendEdoc opens; routes
	// match on it.
	DataType = "edxml"
	// MaxEdocBytes bounds a packet carried inline (base64) by sendEdoc and
	// getEdoc; bigger documents go through the REST API (resumable upload
	// and ranged download).
	MaxEdocBytes = 32 << 20
	// maxBody bounds a SOAP request: the base64 packet and the envelope.
	maxBody = MaxEdocBytes/3*4 + 1<<20
	// PasswordTextEnv lists, comma-separated, the system codes that may
	// send a PasswordText UsernameToken; all others must send a digest.
	PasswordTextEnv = "LGSP_QLVB_PASSWORD_TEXT"
)

func init() {
	service.RegisterModule(service.Module{Name: "qlvb", Provision: provision})
}

// module is one node's QLVB service.
type module struct {
	h      *service.Host
	textOK map[string]bool
	srv    *soap.Server
}

func provision(h *service.Host) error {
	m := &module{h: h, textOK: map[string]bool{}}
	for _, c := range strings.Split(os.Getenv(PasswordTextEnv), ",") {
		if c = strings.TrimSpace(c); c != "" {
			m.textOK[c] = true
		}
	}
	pub := ""
	if u := strings.TrimRight(h.Config.PublicURL, "/"); u != "" {
		pub = u + Path
	}
	srv, err := soap.NewServer(soap.ServerOptions{
		WSDL: lgspedoc.WSDL, PublicURL: pub, MaxBody: maxBody,
		Version11: true, Version12: true,
		Security: m.security,
	})
	if err != nil {
		return err
	}
	m.srv = srv
	for _, op := range m.operations() {
		if err := srv.Handle(op); err != nil {
			return err
		}
	}
	h.Handle(Path, m)
	return nil
}

type stateKey struct{}

// authState carries the principal from the Security hook (or the HTTP
// signature check) to the operation.
type authState struct{ p *auth.Principal }

func principal(ctx context.Context) (*auth.Principal, error) {
	if st, _ := ctx.Value(stateKey{}).(*authState); st != nil && st.p != nil {
		return st.p, nil
	}
	return nil, bus.ErrAuthMissing.New("no credentials")
}

// ServeHTTP checks an LGSP HTTP signature when the request carries one
// (over the whole SOAP body), then hands the request to the SOAP server.
// The signature is checked from the headers before the body is read, so
// that only an authenticated request reads a body in the main pool; a
// request with a UsernameToken is authenticated once its envelope is read
// (security), in the unauthenticated pool and its memory budget.
func (m *module) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &authState{}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	if r.Method == http.MethodPost && lgspCredentials(r) {
		v := soap.V11
		if strings.Contains(r.Header.Get("Content-Type"), soap.ContentType12) {
			v = soap.V12
		}
		p, err := m.h.Auth.Authenticate(r)
		if err != nil {
			soap.WriteFault(w, v, err)
			return
		}
		if err := service.Admit(r.Context()); err != nil {
			soap.WriteFault(w, v, err)
			return
		}
		body, err := soap.ReadBody(w, r, maxBody)
		if err != nil {
			soap.WriteFault(w, v, err)
			return
		}
		if p.BodySHA256 != "" {
			sum := sha256.Sum256(body)
			if got := hex.EncodeToString(sum[:]); got != p.BodySHA256 {
				soap.WriteFault(w, v, bus.ErrAuthBodyHash.New("the body's SHA-256 is %s, %s says %s", got, auth.HeaderContentSHA256, p.BodySHA256))
				return
			}
		}
		st.p = p
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	m.srv.ServeHTTP(w, r)
}

// lgspCredentials reports whether r carries LGSP HTTP credentials: an
// LGSP signature, a bearer token or the legacy token header (HTTP Basic,
// which some SOAP stacks add, is ignored).
func lgspCredentials(r *http.Request) bool {
	a := strings.TrimSpace(r.Header.Get(auth.HeaderAuthorization))
	return strings.HasPrefix(a, "LGSP-") || len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") || r.Header.Get(auth.HeaderLegacyToken) != ""
}

// security is the SOAP server's hook: a request already authenticated by
// its HTTP signature passes; any other needs a UsernameToken.
func (m *module) security(ctx context.Context, h *soap.Header, _ *soap.Operation) error {
	st, _ := ctx.Value(stateKey{}).(*authState)
	if st == nil {
		return bus.ErrInternal.New("qlvb: no auth state")
	}
	if st.p != nil {
		return nil
	}
	p, err := m.usernameToken(ctx, h)
	if err != nil {
		return err
	}
	st.p = p
	return service.Admit(ctx)
}

// usernameToken checks a WS-Security UsernameToken (Username = access key,
// Password = secret key) against the key store, with the same key and
// system checks and the same limits as signed requests.
func (m *module) usernameToken(ctx context.Context, h *soap.Header) (*auth.Principal, error) {
	sec := h.Security
	if sec == nil || sec.Username == "" {
		return nil, bus.ErrAuthMissing.New("send a wsse:Security UsernameToken (Username = access key, PasswordDigest of the secret key) or sign the HTTP request")
	}
	v := m.h.Verifier
	if v == nil || v.Keys == nil || v.Nonces == nil || m.h.Vault == nil {
		return nil, bus.ErrInternal.New("the verifier is not configured")
	}
	ak := sec.Username
	if len(ak) > 128 {
		return nil, bus.ErrAuthMalformed.New("the Username is too long")
	}
	if err := v.Limits.CheckLocked(ak, h.RemoteAddr); err != nil {
		return nil, err
	}
	var key *struct{ code string }
	var lookupErr error
	lookup := func(user string) (string, bool) {
		k, err := v.Keys.GetKey(ctx, user)
		if err != nil {
			if !errors.Is(err, bus.ErrKeyNotFound.Err()) {
				lookupErr = err
			}
			return "", false
		}
		secret, err := auth.SharedSecret(m.h.Vault, k) // auth.key_kind for a public key
		if err != nil {
			lookupErr = err
			return "", false
		}
		key = &struct{ code string }{k.SystemCode}
		s := string(secret)
		clear(secret)
		return s, true
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	// The nonces go to the node's replay cache, beside those of signed
	// requests ("wsse:" keeps them apart): shared by the nodes of one
	// database, kept across a clean restart.
	nonces := soap.NodeNonces(func(user, nonce string, forget time.Time) (bool, error) {
		return v.Nonces.Use(ctx, user, "wsse:"+nonce, forget)
	}, v.NotBefore)
	err := nonces.VerifyUsernameToken(h, lookup, now, v.Skew)
	if lookupErr != nil {
		var be *bus.Error
		if errors.As(lookupErr, &be) {
			return nil, be
		}
		return nil, bus.ErrUnavailable.Wrap(lookupErr, "reading access key")
	}
	if err != nil {
		if key != nil && errors.Is(err, bus.ErrAuthBadSignature.Err()) {
			v.Limits.Failure(ctx, ak, key.code, h.RemoteAddr)
		}
		return nil, err
	}
	k, err := v.Keys.GetKey(ctx, ak)
	if err != nil {
		return nil, bus.ErrUnavailable.Wrap(err, "reading access key")
	}
	sys, err := auth.KeyStanding(ctx, v.Keys, k, now)
	if err != nil {
		return nil, err
	}
	if !sec.Digest() && !m.textOK[sys.Code] {
		return nil, bus.ErrAuthAlgorithm.New("system %s must send a PasswordDigest UsernameToken (PasswordText is not allowed for it)", sys.Code)
	}
	if err := v.Limits.Allow(k.AccessKey); err != nil {
		return nil, err
	}
	// traffic_anomaly counts SOAP calls too (M3); signed ones were counted
	// by Host.Auth.
	m.h.Observe(sys.Code)
	return &auth.Principal{SystemCode: sys.Code, AccessKey: k.AccessKey, Alg: "wss-username-token", System: sys, Nonce: sec.Nonce}, nil
}

// op builds a soap.Operation of lgsp-edoc.wsdl.
func op[Req any](name, action string, do func(ctx context.Context, p *auth.Principal, req *Req) (any, error)) soap.Operation {
	return soap.Operation{
		Name: name, Namespace: lgspedoc.TargetNamespace, Action: action,
		New: func() any { return new(Req) },
		Do: func(ctx context.Context, _ *soap.Header, req any) (any, error) {
			p, err := principal(ctx)
			if err != nil {
				return nil, err
			}
			return do(ctx, p, req.(*Req))
		},
	}
}

func (m *module) operations() []soap.Operation {
	return []soap.Operation{
		op("sendEdoc", lgspedoc.ActionSendEdoc, m.sendEdoc),
		op("getReceivedEdocList", lgspedoc.ActionGetReceivedEdocList, m.getReceivedEdocList),
		op("getEdoc", lgspedoc.ActionGetEdoc, m.getEdoc),
		op("updateStatus", lgspedoc.ActionUpdateStatus, m.updateStatus),
		op("getSentEdocList", lgspedoc.ActionGetSentEdocList, m.getSentEdocList),
		op("getAgencyList", lgspedoc.ActionGetAgencyList, m.getAgencyList),
	}
}

// decodeBase64 decodes an xsd:base64Binary text (line breaks and spaces
// allowed) of at most max decoded bytes. It removes the blanks in place:
// text is the decoded request's own field, and a copy of it would add
// 4/3 of the packet to the request's peak memory (docs/edxml.md, Memory).
func decodeBase64(field string, text []byte, max int) ([]byte, error) {
	clean := text[:0]
	for _, c := range text {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			clean = append(clean, c)
		}
	}
	if base64.StdEncoding.DecodedLen(len(clean)) > max+2 {
		return nil, bus.ErrBodyTooLarge.New("%s is limited to %d bytes inline; send larger documents with the REST API", field, max)
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
	n, err := base64.StdEncoding.Decode(out, clean)
	if err != nil {
		return nil, bus.ErrBadRequest.New("%s is not base64: %v", field, err)
	}
	if n == 0 {
		return nil, bus.ErrBadRequest.New("%s is empty", field)
	}
	if n > max {
		return nil, bus.ErrBodyTooLarge.New("%s is limited to %d bytes inline; send larger documents with the REST API", field, max)
	}
	return out[:n], nil
}

// encodeBase64 is the text of an xsd:base64Binary element (the generated
// []byte fields hold the text: encoding/xml does not encode base64).
func encodeBase64(b []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(out, b)
	return out
}

func xsdTime(t time.Time) gsoap.XSDDateTime {
	if t.IsZero() {
		return gsoap.XSDDateTime{}
	}
	return gsoap.CreateXsdDateTime(t.UTC().Truncate(time.Millisecond), true)
}

func clip(n int32, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(int(n), max)
}

func uniq(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
