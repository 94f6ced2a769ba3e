package route

import (
	"fmt"
	"path"
)

// Patterns on identifier codes are path.Match globs restricted to '*' and
// '?' over the characters of identifier codes. The restriction keeps the
// overlap check between routes exact (intersect) and patterns readable.

const maxPatternLen = 100

// checkPattern reports why p is not a valid identifier-code pattern.
func checkPattern(p string) error {
	if p == "" {
		return fmt.Errorf("empty pattern")
	}
	if len(p) > maxPatternLen {
		return fmt.Errorf("pattern is longer than %d characters", maxPatternLen)
	}
	for _, c := range []byte(p) {
		switch {
		case c == '*' || c == '?':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return fmt.Errorf("pattern %q: character %q is not allowed (use letters, digits, '.', '-', '_' and the wildcards * and ?)", p, rune(c))
		}
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("pattern %q: %v", p, err)
	}
	return nil
}

// matchAny reports whether s matches one of the patterns.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// intersect reports whether some string matches both patterns a and b
// (valid per checkPattern) and returns the shortest such witness it finds.
func intersect(a, b string) (string, bool) {
	failed := map[[2]int]bool{}
	var rec func(i, j int) (string, bool)
	rec = func(i, j int) (string, bool) {
		if failed[[2]int{i, j}] {
			return "", false
		}
		if i == len(a) && j == len(b) {
			return "", true
		}
		if i < len(a) && j < len(b) && a[i] == '*' && b[j] == '*' {
			if w, ok := rec(i+1, j+1); ok { // prefer a readable witness: both stars match "0"
				return "0" + w, true
			}
		}
		if i < len(a) && a[i] == '*' {
			if w, ok := rec(i+1, j); ok { // the star matches nothing
				return w, true
			}
			if j < len(b) { // the star swallows b's next token
				if w, ok := rec(i, j+1); ok {
					return witness(b[j]) + w, true
				}
			}
		}
		if j < len(b) && b[j] == '*' {
			if w, ok := rec(i, j+1); ok {
				return w, true
			}
			if i < len(a) {
				if w, ok := rec(i+1, j); ok {
					return witness(a[i]) + w, true
				}
			}
		}
		if i < len(a) && j < len(b) && a[i] != '*' && b[j] != '*' {
			if c, ok := unify(a[i], b[j]); ok {
				if w, ok := rec(i+1, j+1); ok {
					return string(c) + w, true
				}
			}
		}
		failed[[2]int{i, j}] = true
		return "", false
	}
	return rec(0, 0)
}

// witness is a character matched by pattern token c ("" for '*').
func witness(c byte) string {
	switch c {
	case '*':
		return ""
	case '?':
		return "0"
	}
	return string(c)
}

// unify returns a character matched by both single-character tokens.
func unify(a, b byte) (byte, bool) {
	switch {
	case a == '?' && b == '?':
		return '0', true
	case a == '?':
		return b, true
	case b == '?', a == b:
		return a, true
	}
	return 0, false
}

// dataTypeOverlap returns the data type both a and b accept.
func dataTypeOverlap(a, b string) (string, bool) {
	switch {
	case a == "*":
		return b, true
	case b == "*", a == b:
		return a, true
	}
	return "", false
}
