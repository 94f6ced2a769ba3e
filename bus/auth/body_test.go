package auth

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tuyenquang/lgsp/bus"
)

func TestVerifyBody(t *testing.T) {
	big := bytes.Repeat([]byte("Công văn "), 100_000) // ~1 MB, read in small pieces
	cases := []struct {
		name    string
		body    io.Reader
		want    string
		code    string // "" = reads to EOF without error
		got     string // hash given to onMismatch
		payload []byte
	}{
		{name: "match", body: strings.NewReader(exBody), want: exBodyHash, payload: []byte(exBody)},
		{name: "empty", body: strings.NewReader(""), want: EmptySHA256},
		{name: "one byte at a time", body: iotest.OneByteReader(strings.NewReader(exBody)), want: exBodyHash, payload: []byte(exBody)},
		{name: "data with EOF", body: iotest.DataErrReader(strings.NewReader(exBody)), want: exBodyHash, payload: []byte(exBody)},
		{name: "large", body: iotest.HalfReader(bytes.NewReader(big)), want: HashBody(big), payload: big},
		{name: "mismatch at EOF", body: strings.NewReader("tampered"), want: exBodyHash, code: "auth.body_hash", got: HashBody([]byte("tampered")), payload: []byte("tampered")},
		{name: "mismatch with data and EOF together", body: iotest.DataErrReader(strings.NewReader("tampered")), want: exBodyHash, code: "auth.body_hash", got: HashBody([]byte("tampered")), payload: []byte("tampered")},
		{name: "truncated body", body: strings.NewReader(exBody[:40]), want: exBodyHash, code: "auth.body_hash", got: HashBody([]byte(exBody[:40])), payload: []byte(exBody[:40])},
		{name: "empty body but hash of content", body: strings.NewReader(""), want: exBodyHash, code: "auth.body_hash", got: EmptySHA256},
		{name: "bad wanted hash", body: strings.NewReader(exBody), want: strings.ToUpper(exBodyHash), code: "auth.malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			closed := false
			rc := VerifyBody(readCloser{tc.body, func() { closed = true }}, tc.want, func(h string) { got = append(got, h) })
			data, err := io.ReadAll(rc)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				wantCode(t, err, bus.Code(tc.code))
				// The error is sticky: a handler that reads again never sees EOF.
				if _, err2 := rc.Read(make([]byte, 8)); bus.CodeOf(err2) != bus.Code(tc.code) {
					t.Fatalf("second read: %v", err2)
				}
			}
			if !bytes.Equal(data, tc.payload) {
				t.Fatalf("read %d bytes, want %d", len(data), len(tc.payload))
			}
			if tc.got != "" && (len(got) != 1 || got[0] != tc.got) {
				t.Fatalf("onMismatch got %v, want [%s]", got, tc.got)
			}
			if tc.got == "" && len(got) != 0 {
				t.Fatalf("onMismatch called: %v", got)
			}
			if err := rc.Close(); err != nil || !closed {
				t.Fatalf("Close: %v, closed %v", err, closed)
			}
		})
	}
	if _, err := io.ReadAll(VerifyBody(nil, EmptySHA256, nil)); err != nil {
		t.Fatalf("nil body: %v", err)
	}
}

type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }
