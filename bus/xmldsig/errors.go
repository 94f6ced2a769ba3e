package xmldsig

import "errors"

// Stable error and warning codes. They never change meaning once shipped;
// the bus maps them into its catalogue (bus/errors.go).
const (
	CodeTampered      = "xmldsig.tampered"       // digest or signature value does not match the content
	CodeUntrustedCert = "xmldsig.untrusted_cert" // certificate missing, or does not chain to the configured roots
	CodeExpiredCert   = "xmldsig.expired_cert"   // a certificate of the chain is outside its validity period
	CodeRevokedCert   = "xmldsig.revoked_cert"   // a certificate of the chain is listed in a CRL
	CodeNoSignature   = "xmldsig.no_signature"   // the document carries no signature
	CodePlaceholder   = "xmldsig.placeholder"    // the signature is a static or empty placeholder (docs/xmldsig.md, placeholders)
	CodeWrapped       = "xmldsig.wrapped"        // the signature does not cover the document root (signature wrapping)
	CodeDTD           = "xmldsig.dtd"            // the document has a DOCTYPE or ENTITY declaration
	CodeTooLarge      = "xmldsig.too_large"      // the document is larger than Verifier.MaxBytes
	CodeTooComplex    = "xmldsig.too_complex"    // too many elements or attributes, too deep, a name too long (xmlscan limits)
	CodeMalformed     = "xmldsig.malformed"      // not well-formed XML, or a signature of the wrong shape
	CodeAlgorithm     = "xmldsig.algorithm"      // an algorithm, transform or key type that is not accepted
	CodeKey           = "xmldsig.key"            // a signing key or certificate that cannot be used
)

// Warning codes; a warning never stops a document.
const (
	WarnSHA1       = "xmldsig.sha1"        // the signature uses SHA-1 (legacy peers)
	WarnWeakKey    = "xmldsig.weak_key"    // the signer's RSA key is shorter than 2048 bits
	WarnCRLInvalid = "xmldsig.crl_invalid" // a CRL for the issuer did not verify and was ignored
	WarnCRLStale   = "xmldsig.crl_stale"   // the CRL used is past its NextUpdate
	WarnNoCRL      = "xmldsig.no_crl"      // CRLs are configured, but none covers the signer's issuer
)

// Error is the error type of this package: a stable Code, a message that
// is safe to show to the sender of the document, and an internal Cause that
// is logged but not shown.
type Error struct {
	Code  string
	Msg   string
	Cause error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, xmldsig.ErrTampered) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is, one per code.
var (
	ErrTampered      = &Error{Code: CodeTampered}
	ErrUntrustedCert = &Error{Code: CodeUntrustedCert}
	ErrExpiredCert   = &Error{Code: CodeExpiredCert}
	ErrRevokedCert   = &Error{Code: CodeRevokedCert}
	ErrNoSignature   = &Error{Code: CodeNoSignature}
	ErrPlaceholder   = &Error{Code: CodePlaceholder}
	ErrWrapped       = &Error{Code: CodeWrapped}
	ErrDTD           = &Error{Code: CodeDTD}
	ErrTooLarge      = &Error{Code: CodeTooLarge}
	ErrTooComplex    = &Error{Code: CodeTooComplex}
	ErrMalformed     = &Error{Code: CodeMalformed}
	ErrAlgorithm     = &Error{Code: CodeAlgorithm}
	ErrKey           = &Error{Code: CodeKey}
)

// Codes lists every error code of the package, for the bus catalogue and
// for tests that check that no error escapes without one.
var Codes = []string{
	CodeTampered, CodeUntrustedCert, CodeExpiredCert, CodeRevokedCert,
	CodeNoSignature, CodePlaceholder, CodeWrapped, CodeDTD, CodeTooLarge, CodeTooComplex,
	CodeMalformed, CodeAlgorithm, CodeKey,
}

// CodeOf returns the code of the *Error in err's chain, or "" when there is
// none (or err is nil).
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Warning is a finding that does not stop the document: a placeholder
// signature under a lenient policy, a legacy algorithm, a stale CRL.
type Warning struct {
	Code string
	Msg  string
}

func (w Warning) String() string { return w.Code + ": " + w.Msg }

func newErr(code, msg string, cause error) *Error {
	return &Error{Code: code, Msg: msg, Cause: cause}
}
