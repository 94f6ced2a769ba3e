package bus

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Identifier codes of connected systems (Art. 8; docs/edxml.md). The legacy
// QCVN 102:2016 form is LLL.KK.JJ.XNN read right to left; QĐ 20/2020 and the
// 2022 amendment allow dot-separated groups of A–Z/0–9, at most 35 characters.
// Codes are opaque strings for routing: the province code is configuration,
// never hard-coded.
var (
	legacyCode = regexp.MustCompile(`^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$`)
	newCode    = regexp.MustCompile(`^[0-9A-Za-z]+(\.[0-9A-Za-z]+)*$`)
)

// CodeForm tells which structure an identifier code follows.
type CodeForm int

// Code forms.
const (
	CodeInvalid CodeForm = iota
	CodeLegacy           // LLL.KK.JJ.XNN (QCVN 102:2016)
	CodeDotted           // dot-separated groups, ≤ 35 chars (QĐ 20/2020); accepted with a warning
)

// ParseSystemCode checks an identifier code and tells its form. Codes are
// compared exactly; callers trim surrounding spaces before storing.
func ParseSystemCode(code string) (CodeForm, error) {
	switch {
	case legacyCode.MatchString(code):
		return CodeLegacy, nil
	case len(code) <= 35 && newCode.MatchString(code):
		return CodeDotted, nil
	case code == "":
		return CodeInvalid, ErrInvalidCode.New("identifier code is empty")
	case len(code) > 35:
		return CodeInvalid, ErrInvalidCode.New("%q is longer than 35 characters", code)
	default:
		return CodeInvalid, ErrInvalidCode.New("%q: expected LLL.KK.JJ.XNN (e.g. 000.00.01.H60) or dot-separated groups of letters and digits", code)
	}
}

var idEnc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a random identifier with a readable prefix, e.g. "ex_3k9…".
// 120 bits of randomness; safe to show in URLs and logs.
func NewID(prefix string) string {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("bus: crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + idEnc.EncodeToString(b[:])
}

// RandomToken returns n random bytes encoded for transport (URL-safe base32),
// used for secrets and session tokens.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("bus: crypto/rand failed: " + err.Error())
	}
	return strings.ToUpper(idEnc.EncodeToString(b))
}

// ShowCode returns code when it has the legacy QCVN 102 form
// LLL.KK.JJ.XNN, which an error detail or a log line may name. Anything else
// comes from a packet and could be payload text (the dotted form admits any
// run of letters and digits), so it is shown only by its length and a short
// SHA-256, which an operator can match against a code they know.
func ShowCode(code string) string {
	if legacyCode.MatchString(code) {
		return code
	}
	sum := sha256.Sum256([]byte(code))
	return "(" + strconv.Itoa(utf8.RuneCountInString(code)) + " characters, sha256:" + hex.EncodeToString(sum[:4]) + ")"
}
