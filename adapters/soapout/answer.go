package soapout

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/tuyenquang/lgsp/adapters/soap"
)

// Permanent reports whether a failed attempt can never succeed by being
// retried: the request cannot be built (mapping, marshalling), the legacy
// system refused the message itself (a Client/Sender fault, an HTTP 4xx
// other than 408 and 429), or the answer failed the route's rule. Such a
// push goes dead at once, with the reason, instead of being retried until
// the policy gives up.
func Permanent(err error) bool {
	var pe permanent
	if errors.As(err, &pe) || errors.Is(err, soap.ErrMarshal) {
		return true
	}
	var f *soap.Fault
	if errors.As(err, &f) {
		return f.Code == "Client" || f.Code == "Sender"
	}
	var he *soap.HTTPError
	if errors.As(err, &he) {
		s := he.StatusCode
		return s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
	}
	return false
}

// AnswerError is a fault-free answer that the route's answer rule does
// not accept. Text is the tested field of the answer, clipped: the legacy
// system's own words (never our document), kept in the dead letter.
type AnswerError struct {
	Field, Text, Why string
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("the answer's %s %s: %q", e.Field, e.Why, e.Text)
}

// MaxAnswerText bounds the answer text kept in a reason.
const MaxAnswerText = 200

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// CheckAnswer applies the rule to a decoded answer: nil when it is
// accepted, an *AnswerError when it matches Refusal or fails Success.
func CheckAnswer(r AnswerRule, answer any) error {
	if r.Refusal != nil && answer != nil {
		if text, ok := soap.FieldText(answer, r.Refusal.Field); ok && matches(r.Refusal, text, ok) {
			return &AnswerError{Field: r.Refusal.Field, Text: clip(text, MaxAnswerText), Why: "matches the route's refusal rule (" + describeTest(r.Refusal) + ")"}
		}
	}
	if r.Success != nil {
		var text string
		var ok bool
		if answer != nil {
			text, ok = soap.FieldText(answer, r.Success.Field)
		}
		if !matches(r.Success, text, ok) {
			if !ok {
				return &AnswerError{Field: r.Success.Field, Why: "is absent, and the route's success rule (" + describeTest(r.Success) + ") needs it"}
			}
			return &AnswerError{Field: r.Success.Field, Text: clip(text, MaxAnswerText), Why: "fails the route's success rule (" + describeTest(r.Success) + ")"}
		}
	}
	return nil
}

func matches(t *AnswerTest, text string, present bool) bool {
	switch {
	case !present:
		return false
	case t.Present:
		return text != ""
	case t.Prefix != "":
		return len(text) >= len(t.Prefix) && text[:len(t.Prefix)] == t.Prefix
	}
	return text == t.Equals
}

func describeTest(t *AnswerTest) string {
	switch {
	case t.Present:
		return t.Field + " present"
	case t.Prefix != "":
		return fmt.Sprintf("%s starts with %q", t.Field, t.Prefix)
	}
	return fmt.Sprintf("%s equals %q", t.Field, t.Equals)
}
