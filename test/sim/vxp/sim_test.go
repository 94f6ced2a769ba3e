package vxpsim_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	vxpsim "github.com/tuyenquang/lgsp/test/sim/vxp"
)

// The recorded SDK requests live with the client that must match them.
const capturesDir = "../../../adapters/vxp/testdata/captures"

const (
	testSecret = "vxp-test-secret"
	docID      = "b6e1f29d-cdc9-4fa7-8391-442e8566f14e"
	h60        = "000.00.00.H60"
	saas       = "vxp.saas.03"
)

var ict = time.FixedZone("ICT", 7*3600)

type reply struct {
	Status    string `json:"status"`
	ErrorCode string `json:"ErrorCode"`
	ErrorDesc string `json:"ErrorDesc"`
	DocID     string `json:"DocId"`
}

// clockOf pins the simulator's clock to a capture's signed timestamp plus
// delay (a reused SDK object's frozen timestamp, some minutes later).
func clockOf(t *testing.T, c vxpsim.Capture, delay time.Duration) func() time.Time {
	ts := c.Header("XroadVnpt-timestamp")
	at, err := time.ParseInLocation("02012006T150405", ts[:15], ict)
	if err != nil {
		t.Fatalf("%s: timestamp %q: %v", c.Name, ts, err)
	}
	return func() time.Time { return at.Add(delay) }
}

func newSim(t *testing.T) (*vxpsim.Server, string) {
	sim := vxpsim.New(map[string]string{h60: testSecret, saas: testSecret})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	// The docId the captures name, waiting for both systems.
	sim.PutWithID(docID, "000.00.00.G22", []string{h60, saas}, "edoc", vxpsim.SamplePacket("000.00.00.G22", []string{h60}, "Thử", []byte("x")))
	return sim, u.Host
}

// TestSimAcceptsRecordedSDK replays every recorded SDK request byte for
// byte (header names as sent, duplicates such as docId/docid, frozen
// timestamps 20 minutes old, sendEdoc as raw bytes + CRLF) and wants
// ErrorCode 0 — except the one edge capture whose docId holds U+0001,
// which Go's HTTP server refuses (400) before any handler: a control
// character is not a valid header byte (RFC 9110 §5.5); its signature is
// checked by adapters/vxp TestSDKEdgeSignatures instead.
func TestSimAcceptsRecordedSDK(t *testing.T) {
	caps, err := vxpsim.LoadCaptures(capturesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(caps) != 12 {
		t.Fatalf("%d captures, want 12", len(caps))
	}
	for _, c := range caps {
		t.Run(c.Name, func(t *testing.T) {
			sim, addr := newSim(t)
			sim.SetClock(clockOf(t, c, 20*time.Minute), vxpsim.DefaultWindow)
			resp, body, err := c.Replay(addr, "")
			if c.Name == "sdk-edge/01-getEdoc.json" {
				// Go answers 400 and closes at once; when the close
				// overtakes the rest of the request the client sees a
				// reset instead of the answer. Either way no handler ran.
				if err != nil && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatal(err)
				}
				if err == nil && resp.StatusCode != 400 {
					t.Fatalf("HTTP %d, want Go's 400 for a control byte in a header", resp.StatusCode)
				}
				if n := len(sim.Docs(func(*vxpsim.Doc) bool { return true })); n != 1 {
					t.Fatalf("%d documents in the simulator after a refused request, want the 1 seeded", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var r reply
			if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != 200 || r.ErrorCode != "0" {
				t.Fatalf("HTTP %d %s (%v)", resp.StatusCode, body, err)
			}
			if c.Op() == "sendEdoc" {
				docs := sim.Docs(func(d *vxpsim.Doc) bool { return d.ID == r.DocID })
				if len(docs) != 1 || !bytes.Equal(docs[0].Body, c.Body[:len(c.Body)-2]) || strings.Join(docs[0].To, ",") != "000.00.00.G22" {
					t.Fatalf("stored %+v; want the file without the CRLF, to G22", docs)
				}
			}
			if c.Op() == "updateStatus" && sim.Transport(docID, h60) != "done" {
				t.Fatal("updateStatus not applied")
			}
		})
	}
}

// TestSimWindow: the same recorded call is refused once its frozen
// timestamp is older than the window.
func TestSimWindow(t *testing.T) {
	caps, err := vxpsim.LoadCaptures(capturesDir)
	if err != nil {
		t.Fatal(err)
	}
	c := caps[2] // sdk-fixed/01-getEdoc.json
	sim, addr := newSim(t)
	sim.SetClock(clockOf(t, c, vxpsim.DefaultWindow+time.Minute), vxpsim.DefaultWindow)
	resp, body, err := c.Replay(addr, "")
	if err != nil || resp.StatusCode != 401 || !strings.Contains(string(body), "timestamp") {
		t.Fatalf("stale timestamp: HTTP %d %s %v", resp.StatusCode, body, err)
	}
}

// resign rewrites a capture's sendEdoc with another body, optionally
// without "to", and signs it again with the test secret.
func resign(c vxpsim.Capture, body []byte, dropTo bool) vxpsim.Capture {
	sum := sha256.Sum256(body[:len(body)-2])
	var hf strings.Builder
	for _, x := range sum {
		fmt.Fprintf(&hf, "%x", x)
	}
	old := c.Header("XroadVnpt-hash-file")
	js := strings.Replace(c.Header("XroadVnpt-sign-header"), old, hf.String(), 1)
	keys := c.Header("XroadVnpt-sign-header-key")
	if dropTo {
		js = strings.Replace(js, `,"XroadVnpt-to":"[\"000.00.00.G22\"]"`, "", 1)
		keys = strings.Replace(keys, ";to", "", 1)
		var hs []string
		for _, h := range c.Headers {
			if !strings.HasPrefix(h, "XroadVnpt-to: ") {
				hs = append(hs, h)
			}
		}
		c.Headers = hs
	}
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(js))
	c.SetHeader("XroadVnpt-hash-file", hf.String())
	c.SetHeader("XroadVnpt-sign-header", js)
	c.SetHeader("XroadVnpt-sign-header-key", keys)
	c.SetHeader("XroadVnpt-hash-header", hex.EncodeToString(m.Sum(nil)))
	c.SetHeader("Content-Length", fmt.Sprint(len(body)))
	c.Body = body
	return c
}

func sendCapture(t *testing.T) vxpsim.Capture {
	caps, err := vxpsim.LoadCaptures(capturesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caps {
		if c.Name == "sdk-fixed/05-sendEdoc.json" {
			return c
		}
	}
	t.Fatal("no sendEdoc capture")
	return vxpsim.Capture{}
}

// TestSimSendWithoutTo: integrators do not send "to"; the recipients are
// the packet's To organ ids.
func TestSimSendWithoutTo(t *testing.T) {
	c := sendCapture(t)
	pkt := vxpsim.SamplePacket(h60, []string{"000.00.00.G22", "000.00.00.A01"}, "Không có to", []byte("pdf"))
	c = resign(c, append(pkt, '\r', '\n'), true)
	sim, addr := newSim(t)
	sim.SetClock(clockOf(t, c, time.Minute), vxpsim.DefaultWindow)
	resp, body, err := c.Replay(addr, "")
	var r reply
	if err != nil || json.Unmarshal(body, &r) != nil || r.ErrorCode != "0" {
		t.Fatalf("HTTP %v %s %v", resp, body, err)
	}
	docs := sim.Docs(func(d *vxpsim.Doc) bool { return d.ID == r.DocID })
	if len(docs) != 1 || strings.Join(docs[0].To, ",") != "000.00.00.G22,000.00.00.A01" {
		t.Fatalf("recipients %+v, want the packet's To list", docs)
	}
}

// TestSimRefusesMultipart: the old client's multipart body, read as the
// raw body it is, is not the file the hash names (ErrorCode 21) — and
// with a hash over the whole multipart body it is not an edXML packet
// (ErrorCode 22). Nothing is stored.
func TestSimRefusesMultipart(t *testing.T) {
	c := sendCapture(t)
	file := c.Body[:len(c.Body)-2]
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	part, _ := mw.CreateFormFile("file_doc", "edoc.edxml")
	part.Write(file)
	mw.Close()
	for _, tc := range []struct {
		name, code string
		hashOf     []byte
	}{{"hash of the file", "21", file}, {"hash of the multipart body", "22", mp.Bytes()}} {
		t.Run(tc.name, func(t *testing.T) {
			x := resign(c, append(append([]byte(nil), tc.hashOf...), '\r', '\n'), false)
			x.Body = mp.Bytes()
			x.SetHeader("Content-Type", mw.FormDataContentType())
			x.SetHeader("Content-Length", fmt.Sprint(mp.Len()))
			sim, addr := newSim(t)
			sim.SetClock(clockOf(t, x, time.Minute), vxpsim.DefaultWindow)
			before := len(sim.Docs(nil))
			resp, body, err := x.Replay(addr, "")
			var r reply
			if err != nil || json.Unmarshal(body, &r) != nil || r.ErrorCode != tc.code || r.Status != "FAIL" {
				t.Fatalf("HTTP %v %s %v, want ErrorCode %s", resp, body, err, tc.code)
			}
			if len(sim.Docs(nil)) != before {
				t.Fatal("a refused sendEdoc stored a packet")
			}
		})
	}
}
