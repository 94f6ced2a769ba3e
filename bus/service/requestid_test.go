package service

import (
	"strings"
	"testing"
)

func TestValidRequestID(t *testing.T) {
	for _, s := range []string{"a", "rq_01HX", "client-42.retry_1:abc", strings.Repeat("Z", MaxRequestIDLen)} {
		if !ValidRequestID(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", strings.Repeat("Z", MaxRequestIDLen+1), "a b", "a\nb", "a\"b", "đ", "a/b", "a=b", "a\x00"} {
		if ValidRequestID(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

// FuzzValidRequestID: whatever a client sends, an accepted id is short and
// made only of the allowed characters (safe to echo and log).
func FuzzValidRequestID(f *testing.F) {
	f.Add("rq-1")
	f.Add("a\r\nX-Evil: 1")
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidRequestID(s) {
			return
		}
		if len(s) == 0 || len(s) > MaxRequestIDLen || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != "" {
			t.Fatalf("accepted %q", s)
		}
	})
}
