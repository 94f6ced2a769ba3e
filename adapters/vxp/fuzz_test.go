package vxp

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
)

// FuzzOpenEdoc feeds arbitrary getEdoc answers from the axis to the
// streaming reader: it never panics, every refusal carries a catalogue
// code, and what it does accept reads to an end.
//
//	go test ./adapters/vxp -run '^$' -fuzz FuzzOpenEdoc -fuzztime 60s
func FuzzOpenEdoc(f *testing.F) {
	for _, s := range []string{
		`{"status":"OK","ErrorCode":"0","data":"PGVkWE1MLz4="}`,
		`{"status":"FAIL","ErrorCode":"-1","ErrorDesc":"không tìm thấy","data":""}`,
		`{"data":"!!!"}`, `{}`, `[`, `{"a":[1,{"b":null}],"data":"QUJD"}`, `{"data":"QUJD`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		r, err := openEdoc(io.NopCloser(strings.NewReader(answer)))
		if err != nil {
			var be *bus.Error
			if !errors.As(err, &be) {
				t.Fatalf("refusal without a catalogue code: %v", err)
			}
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	})
}

// FuzzParseFlatObject: the signed-header JSON parser never panics and
// returns as many values as keys.
func FuzzParseFlatObject(f *testing.F) {
	for _, s := range []string{`{"a":"b","c":"d"}`, `{}`, `{"a":1}`, `{"a":"\u00e9"}`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys, vals, err := parseFlatObject(s)
		if err == nil && len(keys) != len(vals) {
			t.Fatalf("%d keys, %d values", len(keys), len(vals))
		}
	})
}
