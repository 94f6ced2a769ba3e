package activity

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"unicode/utf8"

	"github.com/tuyenquang/lgsp/bus/store"
)

// Hash returns the chain hash of e: SHA-256 over every field but Hash,
// each length-prefixed so that no two entries encode alike, and over
// PrevHash, which links it to the entry before.
func Hash(e store.ActivityEntry) string {
	h := sha256.New()
	put := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put("lgsp-activity-v1")
	put(e.Node)
	put(strconv.FormatInt(e.Seq, 10))
	put(strconv.FormatInt(e.At.UnixMicro(), 10))
	for _, s := range []string{e.Kind, e.Actor, e.SystemCode, e.Unit, e.Subject, e.Outcome, e.Detail} {
		put(s)
	}
	put(strconv.FormatInt(e.EventID, 10))
	put(e.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

// clip keeps at most n characters, as the store's columns do, so that what
// is hashed is what is stored.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// normalise makes e what the store gives back: UTC microseconds, clipped
// columns, valid UTF-8.
func normalise(e *store.ActivityEntry) {
	e.At = e.At.UTC().Truncate(1000)
	for _, p := range []*string{&e.Kind, &e.Actor, &e.SystemCode, &e.Unit, &e.Subject, &e.Outcome} {
		*p = clip(toValidUTF8(*p), 255)
	}
	e.SystemCode = clip(e.SystemCode, 64)
	e.Kind = clip(e.Kind, 64)
	e.Detail = clip(toValidUTF8(e.Detail), 1000)
}

func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}
