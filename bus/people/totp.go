package people

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"
)

// TOTP (RFC 6238) with the parameters every authenticator application
// understands: HMAC-SHA1, 6 digits, 30-second steps. Written with the
// standard library (a few lines; no dependency). A code is accepted in the
// step before, the current one and the one after (clock drift), and each
// step at most once per person (Service records the last one used).
const (
	totpPeriod = 30
	totpDigits = 6
	totpSkew   = 1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a random 160-bit secret (RFC 4226 recommends 160).
func NewTOTPSecret() ([]byte, error) {
	k := make([]byte, 20)
	_, err := rand.Read(k)
	return k, err
}

// TOTPStep is the time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// TOTPCode is the code of step under secret (RFC 4226 HOTP with the step
// as counter).
func TOTPCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

// checkTOTP returns the step code matches at now (within the skew), or -1.
func checkTOTP(secret []byte, code string, now time.Time) int64 {
	if len(code) != totpDigits {
		return -1
	}
	st := TOTPStep(now)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		if subtle.ConstantTimeCompare([]byte(TOTPCode(secret, st+d)), []byte(code)) == 1 {
			return st + d
		}
	}
	return -1
}

// TOTPURI is the otpauth:// URI an authenticator application reads
// (usually as a QR code): issuer "LGSP", account login.
func TOTPURI(issuer, login string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", b32.EncodeToString(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(totpDigits))
	v.Set("period", fmt.Sprint(totpPeriod))
	return "otpauth://totp/" + url.PathEscape(issuer+":"+login) + "?" + v.Encode()
}
