package bus

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite generated docs")

func TestErrorsDoc(t *testing.T) {
	const path = "../docs/errors.md"
	want := CatalogueMarkdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/errors.md is out of date: run go test ./bus -run TestErrorsDoc -update")
	}
}

func TestCatalogue(t *testing.T) {
	for _, d := range Catalogue() {
		if d.VI == "" || d.EN == "" || d.Status < 400 || d.Status > 599 || !strings.Contains(string(d.Code), ".") {
			t.Errorf("incomplete catalogue entry %+v", d)
		}
	}
}

func TestErrorMatching(t *testing.T) {
	err := fmt.Errorf("loading: %w", ErrExchangeState.New("x is %s", "done"))
	if !errors.Is(err, ErrExchangeState) || errors.Is(err, ErrNotFound) {
		t.Fatal("errors.Is does not match by code")
	}
	if CodeOf(err) != "exchange.state" || CodeOf(errors.New("boom")) != "system.internal" || CodeOf(nil) != "" {
		t.Fatal("CodeOf")
	}
	if e := AsError(errors.New("db down")); e.Def != ErrInternal || e.Detail != "" {
		t.Fatal("internal causes must not become details")
	}
}

func TestParseSystemCode(t *testing.T) {
	for code, want := range map[string]CodeForm{
		"000.00.01.H60": CodeLegacy, "000.01.01.G14": CodeLegacy, "H37.DN.001": CodeDotted, "vxp.saas.03": CodeDotted,
		"": CodeInvalid, "000.00.01.H60 ": CodeInvalid, "a..b": CodeInvalid, strings.Repeat("A", 36): CodeInvalid, "000/00": CodeInvalid,
	} {
		got, err := ParseSystemCode(code)
		if got != want || (want == CodeInvalid) != (err != nil) {
			t.Errorf("ParseSystemCode(%q) = %v, %v; want %v", code, got, err, want)
		}
		if err != nil && !errors.Is(err, ErrInvalidCode) {
			t.Errorf("%q: error %v is not registry.invalid_code", code, err)
		}
	}
}

func FuzzParseSystemCode(f *testing.F) {
	for _, s := range []string{"000.00.01.H60", "H37.DN.001", "", "..", "0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		form, err := ParseSystemCode(s)
		if (form == CodeInvalid) != (err != nil) {
			t.Fatalf("%q: form %v err %v", s, form, err)
		}
		if err == nil && (len(s) > 35 && form != CodeLegacy) {
			t.Fatalf("%q accepted but too long", s)
		}
	})
}

func TestRetryBackoff(t *testing.T) {
	p := RetryPolicy{Initial: 100, MaxInterval: 1000, MaxAttempts: 3, MaxElapsed: 1 << 40}
	for n, base := range map[int]int64{1: 100, 2: 200, 3: 400, 5: 1000, 9: 1000} {
		d := int64(p.Backoff(n))
		if d < base*8/10 || d > base*12/10 {
			t.Errorf("Backoff(%d) = %d, want %d ±20%%", n, d, base)
		}
	}
	if p.GiveUp(2, zeroTime, zeroTime) || !p.GiveUp(3, zeroTime, zeroTime) {
		t.Error("GiveUp by attempts")
	}
}

var zeroTime = time.Time{}
