package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"

	"github.com/tuyenquang/lgsp/bus"
)

// VerifyBody wraps a request body so that it is hashed while it is read.
// When the underlying body reaches EOF and its SHA-256 is not wantHex (the
// signed X-LGSP-Content-SHA256), Read returns a bus.ErrAuthBodyHash error
// instead of io.EOF, and keeps returning it. A handler that commits only
// after reading to EOF therefore never commits a body whose hash is wrong,
// whatever its size. onMismatch, if not nil, is called once with the hash
// actually received (for logs and metrics).
//
// A wantHex that is not 64 lower-case hex digits makes the first Read fail
// with bus.ErrAuthMalformed. Close closes the underlying body.
func VerifyBody(body io.ReadCloser, wantHex string, onMismatch func(gotHex string)) io.ReadCloser {
	if body == nil {
		body = http.NoBody
	}
	vb := &verifyingBody{body: body, want: wantHex, h: sha256.New(), onMismatch: onMismatch}
	if err := checkBodyHash(wantHex); err != nil {
		vb.err = err
	}
	return vb
}

type verifyingBody struct {
	body       io.ReadCloser
	want       string
	h          hash.Hash
	err        error // sticky: set at EOF (io.EOF or the mismatch) or on bad wantHex
	onMismatch func(string)
}

func (b *verifyingBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	b.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		got := hex.EncodeToString(b.h.Sum(nil))
		if got != b.want {
			b.err = bus.ErrAuthBodyHash.New("the body's SHA-256 is %s, %s says %s", got, HeaderContentSHA256, b.want)
			if b.onMismatch != nil {
				b.onMismatch(got)
			}
			return n, b.err
		}
		b.err = io.EOF
	}
	return n, err
}

func (b *verifyingBody) Close() error { return b.body.Close() }
