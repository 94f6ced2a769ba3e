package soap

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1" // #nosec G505 -- PasswordDigest is defined on SHA-1 by the WSS UsernameToken profile
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"strings"
	"sync"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// Password types of the WSS UsernameToken profile 1.0.
const (
	PasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	base64Binary   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// wsuTime is the wsu:Created / wsu:Expires form: UTC with milliseconds.
const wsuTime = "2006-01-02T15:04:05.000Z"

// Security is the wsse:Security header of a request as read by the server.
type Security struct {
	MustUnderstand bool
	// UsernameToken; Username is "" when the header has none.
	Username     string
	Password     string // the text, or the Base64 digest
	PasswordType string // PasswordText or PasswordDigest ("" is read as text)
	Nonce        string // Base64, as sent
	Created      string // wsu:Created of the token, as sent
	// Timestamp is the wsu:Timestamp, nil when absent.
	Timestamp *Timestamp
}

// Digest reports whether the password is a PasswordDigest.
func (s *Security) Digest() bool { return s.PasswordType == PasswordDigest }

// Timestamp is a wsu:Timestamp.
type Timestamp struct {
	Created time.Time
	Expires time.Time // zero when absent
}

// securityXML is wsse:Security as read. Created is accepted in the wsse
// namespace too, as some older stacks send it.
type securityXML struct {
	Token *struct {
		Username string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Username"`
		Password struct {
			Type  string `xml:"Type,attr"`
			Value string `xml:",chardata"`
		} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Password"`
		Nonce       string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Nonce"`
		Created     string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd Created"`
		CreatedWSSE string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Created"`
	} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd UsernameToken"`
	Timestamp *struct {
		Created string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd Created"`
		Expires string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd Expires"`
	} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd Timestamp"`
}

// readSecurity decodes the wsse:Security block that start opened.
func (r *reader) readSecurity(start xml.StartElement) (*Security, error) {
	var x securityXML
	if err := r.dec.DecodeElement(&x, &start); err != nil {
		return nil, bus.ErrAuthMalformed.New("wsse:Security: %v", err)
	}
	s := &Security{MustUnderstand: mustUnderstand(start, r.ver)}
	if t := x.Token; t != nil {
		s.Username = strings.TrimSpace(t.Username)
		s.Password = t.Password.Value
		s.PasswordType = strings.TrimSpace(t.Password.Type)
		s.Nonce = strings.TrimSpace(t.Nonce)
		s.Created = strings.TrimSpace(t.Created)
		if s.Created == "" {
			s.Created = strings.TrimSpace(t.CreatedWSSE)
		}
		if s.PasswordType == "" {
			s.PasswordType = PasswordText
		}
	}
	if ts := x.Timestamp; ts != nil {
		c, err := parseWSUTime(ts.Created)
		if err != nil {
			return nil, bus.ErrAuthMalformed.New("wsu:Timestamp/Created: %v", err)
		}
		s.Timestamp = &Timestamp{Created: c}
		if strings.TrimSpace(ts.Expires) != "" {
			if s.Timestamp.Expires, err = parseWSUTime(ts.Expires); err != nil {
				return nil, bus.ErrAuthMalformed.New("wsu:Timestamp/Expires: %v", err)
			}
		}
	}
	return s, nil
}

// parseWSUTime reads an xsd:dateTime; a missing zone is read as UTC.
func parseWSUTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", s)
}

// PasswordDigestOf returns Base64(SHA-1(nonce + created + password)), the
// PasswordDigest of the UsernameToken profile; nonce is the decoded nonce.
func PasswordDigestOf(nonce []byte, created, password string) string {
	h := sha1.New() // #nosec G401 -- fixed by the profile
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// wssConfig is the client's WS-Security setting.
type wssConfig struct {
	user, password string
	digest         bool
	timestampTTL   time.Duration // 0: no wsu:Timestamp
	mustUnderstand bool
}

// securityHeader builds the wsse:Security block of one call.
func (c *wssConfig) securityHeader(v Version, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<wsse:Security xmlns:wsse="` + NSWSSE + `" xmlns:wsu="` + NSWSU + `"`)
	if c.mustUnderstand {
		if v == V12 {
			b.WriteString(` ` + v.prefix() + `:mustUnderstand="true"`)
		} else {
			b.WriteString(` ` + v.prefix() + `:mustUnderstand="1"`)
		}
	}
	b.WriteString(">")
	now = now.UTC()
	created := now.Format(wsuTime)
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	sid := strings.ToUpper(base64.RawURLEncoding.EncodeToString(id))
	if c.timestampTTL > 0 {
		b.WriteString(`<wsu:Timestamp wsu:Id="TS-` + sid + `"><wsu:Created>` + created + `</wsu:Created><wsu:Expires>` +
			now.Add(c.timestampTTL).Format(wsuTime) + `</wsu:Expires></wsu:Timestamp>`)
	}
	if c.user != "" {
		nonce := make([]byte, 16)
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		pw, typ := c.password, PasswordText
		if c.digest {
			pw, typ = PasswordDigestOf(nonce, created, c.password), PasswordDigest
		}
		b.WriteString(`<wsse:UsernameToken wsu:Id="UsernameToken-` + sid + `"><wsse:Username>`)
		esc(&b, c.user)
		b.WriteString(`</wsse:Username><wsse:Password Type="` + typ + `">`)
		esc(&b, pw)
		b.WriteString(`</wsse:Password><wsse:Nonce EncodingType="` + base64Binary + `">` +
			base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce><wsu:Created>` + created + `</wsu:Created></wsse:UsernameToken>`)
	}
	b.WriteString(`</wsse:Security>`)
	return b.Bytes(), nil
}

// NonceCache remembers the nonces of UsernameTokens seen within the
// freshness window, to refuse replays. It holds at most max entries and
// refuses (system.busy) rather than forget a nonce that is still fresh.
type NonceCache struct {
	mu    sync.Mutex
	max   int
	seen  map[string]time.Time // key → time after which it may be forgotten
	order []nonceEntry         // FIFO of keys by insertion
	// use, when set, records the nonces in place of seen: the node's
	// replay cache (bus/auth), shared by the nodes of one database and
	// kept across a clean restart. notBefore refuses tokens created before
	// it (auth.Verifier.NotBefore: the start after an unclean stop).
	use       func(user, nonce string, forget time.Time) (fresh bool, err error)
	notBefore time.Time
}

// NodeNonces returns a NonceCache that records nonces with use, the node's
// replay cache, and refuses tokens created before notBefore (zero: none).
func NodeNonces(use func(user, nonce string, forget time.Time) (fresh bool, err error), notBefore time.Time) *NonceCache {
	return &NonceCache{use: use, notBefore: notBefore}
}

type nonceEntry struct {
	key    string
	forget time.Time
}

// NewNonceCache returns a cache of at most max nonces (100 000 when max ≤ 0).
func NewNonceCache(max int) *NonceCache {
	if max <= 0 {
		max = 100_000
	}
	return &NonceCache{max: max, seen: map[string]time.Time{}}
}

// maxNonceBytes bounds a decoded wsse:Nonce (16 bytes is usual).
const maxNonceBytes = 64

// defaultNonces backs VerifyUsernameToken.
var defaultNonces = NewNonceCache(0)

// add records key until forget; false when it was seen already.
func (c *NonceCache) add(key string, now, forget time.Time) (fresh bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Forget what left the window; entries are roughly in time order, and
	// a later one that expires early is simply kept a little longer.
	i := 0
	for ; i < len(c.order) && !c.order[i].forget.After(now); i++ {
		if c.seen[c.order[i].key].Equal(c.order[i].forget) {
			delete(c.seen, c.order[i].key)
		}
	}
	if i > 0 {
		c.order = append(c.order[:0:0], c.order[i:]...)
	}
	if _, dup := c.seen[key]; dup {
		return false, nil
	}
	if len(c.seen) >= c.max {
		return false, &bus.Error{Def: bus.ErrBusy, Detail: "too many UsernameToken nonces in the replay window", RetryAfter: 1}
	}
	c.seen[key] = forget
	c.order = append(c.order, nonceEntry{key, forget})
	return true, nil
}

// Len returns the number of nonces held.
func (c *NonceCache) Len() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.seen) }

// VerifyUsernameToken checks the UsernameToken of h against lookup with the
// package's shared nonce cache; see (*NonceCache).VerifyUsernameToken.
func VerifyUsernameToken(h *Header, lookup func(user string) (password string, ok bool), now time.Time, skew time.Duration) error {
	return defaultNonces.VerifyUsernameToken(h, lookup, now, skew)
}

// VerifyUsernameToken checks the wsse:UsernameToken of h: the user exists
// (lookup), the password or PasswordDigest matches, the token's Created is
// within skew of now, its nonce was not seen in that window, and a
// wsu:Timestamp, if present, has not expired. A PasswordText token without
// Created and Nonce is accepted on the password alone (no replay check).
// Errors are catalogue auth.* errors.
func (c *NonceCache) VerifyUsernameToken(h *Header, lookup func(user string) (password string, ok bool), now time.Time, skew time.Duration) error {
	if h == nil || h.Security == nil || h.Security.Username == "" {
		return bus.ErrAuthMissing.New("no wsse:UsernameToken in the SOAP header")
	}
	s := h.Security
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	if ts := s.Timestamp; ts != nil {
		if ts.Created.After(now.Add(skew)) {
			return bus.ErrAuthClockSkew.New("wsu:Timestamp/Created %s is in the future", ts.Created.Format(time.RFC3339))
		}
		if !ts.Expires.IsZero() && now.After(ts.Expires.Add(skew)) {
			return bus.ErrAuthClockSkew.New("wsu:Timestamp expired at %s", ts.Expires.Format(time.RFC3339))
		}
	}
	var nonce []byte
	if s.Nonce != "" {
		var err error
		if nonce, err = base64.StdEncoding.DecodeString(s.Nonce); err != nil {
			return bus.ErrAuthMalformed.New("wsse:Nonce is not Base64")
		}
		if len(nonce) > maxNonceBytes {
			return bus.ErrAuthMalformed.New("wsse:Nonce is %d bytes, at most %d", len(nonce), maxNonceBytes)
		}
	}
	var created time.Time
	if s.Created != "" {
		var err error
		if created, err = parseWSUTime(s.Created); err != nil {
			return bus.ErrAuthMalformed.New("wsu:Created of the UsernameToken is not a dateTime")
		}
		if d := now.Sub(created); d > skew || d < -skew {
			return bus.ErrAuthClockSkew.New("UsernameToken created %s, outside ±%s", s.Created, skew)
		}
	}
	switch s.PasswordType {
	case PasswordDigest:
		if len(nonce) == 0 || s.Created == "" {
			return bus.ErrAuthMalformed.New("a PasswordDigest needs wsse:Nonce and wsu:Created")
		}
	case PasswordText:
	default:
		return bus.ErrAuthAlgorithm.New("password type %q is not supported", s.PasswordType)
	}
	want, ok := lookup(s.Username)
	if !ok {
		// Same answer as a wrong password: do not tell which users exist.
		return bus.ErrAuthBadSignature.New("username or password does not match")
	}
	if s.PasswordType == PasswordDigest {
		want = PasswordDigestOf(nonce, s.Created, want)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(s.Password)) != 1 {
		return bus.ErrAuthBadSignature.New("username or password does not match")
	}
	if len(nonce) > 0 {
		forget := now.Add(2 * skew)
		if !created.IsZero() {
			forget = created.Add(2 * skew)
		}
		if created.Before(c.notBefore) {
			return bus.ErrAuthClockSkew.New("UsernameToken created %s, before %s when this node started again after an unclean stop: it cannot tell such a token from a replay; send a new one", s.Created, c.notBefore.UTC().Format(time.RFC3339))
		}
		var fresh bool
		var err error
		if c.use != nil {
			fresh, err = c.use(s.Username, s.Nonce, forget)
		} else {
			fresh, err = c.add(s.Username+"\x00"+s.Nonce, now, forget)
		}
		if err != nil {
			return err
		}
		if !fresh {
			return bus.ErrAuthReplay.New("wsse:Nonce was already used")
		}
	}
	return nil
}
