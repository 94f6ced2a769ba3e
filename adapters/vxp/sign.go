package vxp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Fixed values the VNPT SDK (SDKVXP 2.0.1) sends with every call.
const (
	UserAgent = "JAVASDKAgent/1.0.0 XRoad/VPCP"
	Version   = "3.0.201608"
	// HeaderPrefix starts every logical header on the wire.
	HeaderPrefix = "XroadVnpt-"
)

// Header is one logical header of a call ("systemid", "docId" …).
type Header struct{ Name, Value string }

// Signed is the result of signing a call's logical headers.
type Signed struct {
	Headers []Header // in the order they are signed (see Sign)
	KeyList string   // XroadVnpt-sign-header-key
	JSON    string   // XroadVnpt-sign-header
	Hash    string   // XroadVnpt-hash-header
}

// FormatTimestamp formats t as the SDK's `timestamp` header:
// SimpleDateFormat("ddMMyyyy'T'HHmmss+SSSS") in the JVM's zone, which for
// the national axis is Asia/Ho_Chi_Minh — "+SSSS" is a literal plus sign
// followed by the milliseconds padded to four digits, not a zone offset
// (VnptService.java line 56 of the decompiled SDK, docs/gateways.md §2).
func FormatTimestamp(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	return t.Format("02012006T150405") + fmt.Sprintf("+%04d", t.Nanosecond()/int(time.Millisecond))
}

// Sign signs logical headers exactly as the SDK does (docs/gateways.md §2, "Authentication/
// header signing"; code followed: decompiled SDKVXP 2.0.1
// com/vpcp/services/VnptService.java, addXroadVnptHashHeader, lines 138–166,
// and getListHeader, lines 126–134):
//
//   - the headers live in a java.util.HashMap, so they are walked in the
//     map's iteration order (javaHashMapOrder), not in insertion order;
//   - for each header "k: v", "XroadVnpt-k": "v" is added to a Gson
//     JsonObject and k to the key list;
//   - XroadVnpt-sign-header-key = the names joined by ";" (line 150–153);
//   - XroadVnpt-sign-header = JsonObject.toString(): compact JSON, keys in
//     that order, strings escaped as Gson's JsonWriter does (line 154);
//   - XroadVnpt-hash-header = lower-case hex of HMAC-SHA256 with key = the
//     secret's UTF-8 bytes over the UTF-8 bytes of that JSON (lines 157–160).
//
// Headers with the same name keep the last value, in the place of the
// first (HashMap.put). A server that checks the hash over the transmitted
// sign-header accepts any order; this one is byte-for-byte the SDK's.
func Sign(secret string, headers []Header) Signed {
	// HashMap.put semantics: one entry per name, later values win.
	var names []string
	vals := map[string]string{}
	for _, h := range headers {
		if _, ok := vals[h.Name]; !ok {
			names = append(names, h.Name)
		}
		vals[h.Name] = h.Value
	}
	names = javaHashMapOrder(names)
	var js strings.Builder
	js.WriteByte('{')
	out := Signed{Headers: make([]Header, 0, len(names))}
	for i, n := range names {
		if i > 0 {
			js.WriteByte(',')
		}
		gsonQuote(&js, HeaderPrefix+n)
		js.WriteByte(':')
		gsonQuote(&js, vals[n])
		out.Headers = append(out.Headers, Header{n, vals[n]})
	}
	js.WriteByte('}')
	out.KeyList = strings.Join(names, ";")
	out.JSON = js.String()
	out.Hash = HMACHex(secret, out.JSON)
	return out
}

// HMACHex is lower-case hex of HMAC-SHA256(key = secret, data = msg).
func HMACHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Apply writes the signed headers to h as the SDK sends them: every
// logical header as XroadVnpt-<name>, the plain Content-Type (when it is a
// logical header), the three signature headers, User-Agent and
// XroadVnpt-version. Header names are set verbatim (not canonicalised),
// as Java's HttpClient sends them, and values as its bytes (WireLatin1).
func (s Signed) Apply(h http.Header) {
	for _, x := range s.Headers {
		if x.Name == "Content-Type" {
			h.Set("Content-Type", x.Value)
		}
		h[HeaderPrefix+x.Name] = []string{WireLatin1(x.Value)}
	}
	h["XroadVnpt-sign-header-key"] = []string{WireLatin1(s.KeyList)}
	h["XroadVnpt-sign-header"] = []string{WireLatin1(s.JSON)}
	h["XroadVnpt-hash-header"] = []string{s.Hash}
	h.Set("User-Agent", UserAgent)
	h["XroadVnpt-version"] = []string{Version}
}

// WireLatin1 is how the SDK's HTTP library puts a header value on the
// wire: one byte per UTF-16 unit, its low 8 bits (ISO-8859-1, with
// characters above U+00FF truncated — "ệ" U+1EC7 leaves as 0xC7). The HMAC
// is computed before that, over the UTF-8 of the real string (see the
// sdk-edge captures), so only values in ASCII survive both ends intact.
func WireLatin1(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 { // a surrogate pair: two units
			r -= 0x10000
			b = append(b, byte(0xD800+(r>>10)), byte(0xDC00+(r&0x3FF)))
			continue
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// fromLatin1 reads header bytes as ISO-8859-1 (as a Java server does)
// and returns their UTF-8 text.
func fromLatin1(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// javaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + … over the
// UTF-16 code units, in 32-bit two's complement.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// javaHashMapOrder returns keys (given in insertion order) in the order a
// java.util.HashMap built with the default constructor iterates them:
// by bucket index (hash ^ hash>>>16) & (capacity-1), insertion order within
// a bucket. The capacity starts at 16 and doubles whenever the size passes
// ¾ of it; a resize keeps the relative order inside each bucket, so the
// order depends only on the final capacity. (Buckets turn into trees only
// with 8+ collisions and capacity ≥ 64 — never for a call's few headers.)
func javaHashMapOrder(keys []string) []string {
	capacity := 16
	for len(keys) > capacity*3/4 {
		capacity *= 2
	}
	type kb struct {
		k string
		b int
	}
	xs := make([]kb, len(keys))
	for i, k := range keys {
		h := uint32(javaStringHash(k))
		xs[i] = kb{k, int((h ^ h>>16) & uint32(capacity-1))}
	}
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].b < xs[j].b })
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.k
	}
	return out
}

// gsonQuote writes s as Gson's JsonWriter (htmlSafe off, the default of
// JsonElement.toString) does: \" \\ \t \b \n \r \f, other controls as
// \u00xx (lower-case hex), U+2028/U+2029 as \u2028/\u2029; everything
// else — including non-ASCII and '/' — verbatim.
func gsonQuote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// HashFile is the SDK's `hash-file` header: SHA-256 of the file with each
// byte written by Integer.toHexString — lower-case and WITHOUT zero
// padding, so bytes below 0x10 give one digit (KnobstickServiceImp.java,
// createContentHA256, lines 695–699; docs/gateways.md §2 "Quirk").
func HashFile(sum []byte) string {
	var b strings.Builder
	for _, x := range sum {
		fmt.Fprintf(&b, "%x", x)
	}
	return b.String()
}

// VerifyRequest checks the XroadVnpt signature of an incoming request as a
// VXP server does: the hash is HMAC-SHA256(secret) of the transmitted
// XroadVnpt-sign-header, the key list names exactly the JSON's keys in the
// same order, and every signed value equals the XroadVnpt-<name> header
// that was sent. It returns the signed logical headers. Used by the
// simulator (test/sim/vxp) and by tests.
func VerifyRequest(h http.Header, secret string) (map[string]string, error) {
	get := func(n string) (string, bool) { // exact name first (raw maps), then canonical
		if v, ok := h[n]; ok && len(v) > 0 {
			return v[0], true
		}
		v := h.Get(n)
		return v, v != ""
	}
	keyList, ok1 := get("XroadVnpt-sign-header-key")
	js, ok2 := get("XroadVnpt-sign-header")
	hash, ok3 := get("XroadVnpt-hash-header")
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("missing XroadVnpt-sign-header-key, -sign-header or -hash-header")
	}
	if !hmac.Equal([]byte(HMACHex(secret, js)), []byte(strings.ToLower(hash))) {
		// The SDK hashes the UTF-8 of the JSON but sends it as ISO-8859-1
		// (WireLatin1): read the bytes as a Java server would.
		js = fromLatin1(js)
		if !hmac.Equal([]byte(HMACHex(secret, js)), []byte(strings.ToLower(hash))) {
			return nil, fmt.Errorf("XroadVnpt-hash-header does not match HMAC-SHA256 of XroadVnpt-sign-header")
		}
	}
	keys, vals, err := parseFlatObject(js)
	if err != nil {
		return nil, fmt.Errorf("XroadVnpt-sign-header: %w", err)
	}
	names := strings.Split(keyList, ";")
	if keyList == "" {
		names = nil
	}
	if len(names) != len(keys) {
		return nil, fmt.Errorf("XroadVnpt-sign-header-key lists %d names, the signed JSON has %d", len(names), len(keys))
	}
	out := map[string]string{}
	for i, n := range names {
		if keys[i] != HeaderPrefix+n {
			return nil, fmt.Errorf("signed key %d is %q, the key list says %q", i, keys[i], HeaderPrefix+n)
		}
		if !sentAs(h, HeaderPrefix+n, vals[i]) {
			return nil, fmt.Errorf("header %s%s differs from its signed value or was not sent", HeaderPrefix, n)
		}
		out[n] = vals[i]
	}
	return out, nil
}

// sentAs reports whether a header name carries the signed value. A Go
// server files "XroadVnpt-docId" and "XroadVnpt-docid" under one
// canonical name, so any of its values may be the one (a reused SDK object
// sends both); values travel as ISO-8859-1 (WireLatin1).
func sentAs(h http.Header, name, signed string) bool {
	vs := h[name]
	if len(vs) == 0 {
		vs = h.Values(name)
	}
	if len(vs) == 0 {
		return signed == ""
	}
	wire := WireLatin1(signed)
	for _, v := range vs {
		if v == wire || v == signed {
			return true
		}
	}
	return false
}
