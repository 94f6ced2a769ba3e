package test

// Every refusal path of the QLVB SOAP service (/soap/edoc) over real HTTP
// with our SOAP client: each answers a SOAP Fault (Client/Sender) with
// its LGSP code and creates no exchange.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/qlvb"
	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/service"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

const (
	qlvbOutsider  = "000.00.12.H60" // registered, no grant, party to nothing
	qlvbSuspended = "000.00.13.H60"
	qlvbTextOK    = "000.00.14.H60" // listed in LGSP_QLVB_PASSWORD_TEXT
	qlvbLocked    = "000.00.15.H60"
	qlvbLockAfter = 5 // auth.lock_failures of the test node
)

// signingTransport adds the LGSP HTTP signature over the SOAP body; bodySHA,
// when set, replaces the body's SHA-256 in the signature.
type signingTransport struct {
	ak, sk  string
	bodySHA string
}

func (s signingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r2 := r.Clone(r.Context())
	r2.Body, r2.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	sum := sha256.Sum256(body)
	sha := hex.EncodeToString(sum[:])
	if s.bodySHA != "" {
		sha = s.bodySHA
	}
	if err := auth.Sign(r2, s.ak, s.sk, sha, time.Now(), bus.RandomToken(16)); err != nil {
		return nil, err
	}
	return http.DefaultTransport.RoundTrip(r2)
}

// wsseToken is a wsse:Security header with a PasswordDigest UsernameToken
// of a chosen nonce and Created, for replays and stale tokens.
func wsseToken(user, secret string, nonce []byte, created time.Time) soap.RawXML {
	c := created.UTC().Format("2006-01-02T15:04:05.000Z")
	return soap.RawXML(`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"` +
		` xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken>` +
		`<wsse:Username>` + user + `</wsse:Username>` +
		`<wsse:Password Type="` + soap.PasswordDigest + `">` + soap.PasswordDigestOf(nonce, c, secret) + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">` +
		base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce><wsu:Created>` + c + `</wsu:Created></wsse:UsernameToken></wsse:Security>`)
}

// wantSOAPFault asserts err is a SOAP fault from LGSP with code.
func wantSOAPFault(t *testing.T, err error, code string) {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("want a SOAP fault %s, got %v", code, err)
	}
	// Every fault comes with HTTP 500 (docs/soap-systems.md); a caller's
	// error is a Client (1.1) or Sender (1.2) fault.
	if string(f.LGSPCode) != code || (f.Code != "Client" && f.Code != "Sender") || f.HTTPStatus != http.StatusInternalServerError || f.MessageVI == "" {
		t.Fatalf("want an HTTP 500 Client/Sender fault %s, got %d %s %s: %v", code, f.HTTPStatus, f.Code, f.LGSPCode, f)
	}
}

func TestQLVBAuthRefusals(t *testing.T) {
	t.Setenv(qlvb.PasswordTextEnv, qlvbTextOK)
	dir := routesWith(t, map[string]string{"edxml.yaml": qlvbRoute})
	n := startNodeWith(t, "sqlite", func(c *service.Config) {
		c.RoutesDir, c.PublicURL = dir, ""
		c.Auth.LockFailures = qlvbLockAfter
	})
	ctx := context.Background()
	reg := n.svc.Registry()
	s := n.system(t, qlvbSender, "Sở Nội vụ — QLVB")
	n.system(t, qlvbRecipient, "Sở Tư pháp — QLVB")
	o := n.system(t, qlvbOutsider, "Sở Y tế — QLVB")
	u := n.system(t, qlvbSuspended, "Sở Xây dựng — QLVB")
	x := n.system(t, qlvbTextOK, "Sở Công thương — QLVB (PasswordText)")
	l := n.system(t, qlvbLocked, "Sở Giáo dục — QLVB")
	n.grant(t, "exchange", qlvbSender, qlvbRecipient, "edxml")
	codes := []string{qlvbSender, qlvbRecipient, qlvbOutsider, qlvbSuspended, qlvbTextOK, qlvbLocked}

	endpoint := n.url + qlvb.Path
	cli := func(t *testing.T, opts ...soap.Option) *soap.Client {
		t.Helper()
		c, err := soap.NewClient(endpoint, append([]soap.Option{soap.WithTimeout(time.Minute)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	token := func(t *testing.T, ak, sk string, digest bool, opts ...soap.Option) *soap.Client {
		t.Helper()
		return cli(t, append([]soap.Option{soap.WithUsernameToken(ak, sk, digest)}, opts...)...)
	}
	doc, _ := qlvbPackets(t, qlvbSender, qlvbRecipient, edxml.StatusAccepted, "Đã vào sổ văn bản đến")
	send := func(c *soap.Client, edxmlText []byte) error {
		var resp lgspedoc.SendEdocResponse
		return c.Call(ctx, lgspedoc.ActionSendEdoc, &lgspedoc.SendEdoc{Edxml: edxmlText}, &resp)
	}
	sendDoc := func(c *soap.Client) error { return send(c, []byte(base64.StdEncoding.EncodeToString(doc))) }
	agencies := func(c *soap.Client) error {
		var resp lgspedoc.GetAgencyListResponse
		return c.Call(ctx, lgspedoc.ActionGetAgencyList, &lgspedoc.GetAgencyList{}, &resp)
	}
	sentBy := func(t *testing.T, code string) int {
		t.Helper()
		list, err := n.svc.Exchange().Sent(ctx, code, 500)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	sentAll := func(t *testing.T) int {
		t.Helper()
		total := 0
		for _, c := range codes {
			total += sentBy(t, c)
		}
		return total
	}

	good := token(t, s.AccessKey, s.SecretKey, true)
	var sent lgspedoc.SendEdocResponse
	if err := good.Call(ctx, lgspedoc.ActionSendEdoc, &lgspedoc.SendEdoc{Edxml: []byte(base64.StdEncoding.EncodeToString(doc))}, &sent); err != nil || sent.DocId == "" {
		t.Fatalf("the valid sendEdoc: %v %+v", err, sent)
	}
	if err := token(t, x.AccessKey, x.SecretKey, false).Call(ctx, lgspedoc.ActionGetAgencyList, &lgspedoc.GetAgencyList{}, nil); err != nil {
		t.Fatalf("PasswordText of a system listed in %s: %v", qlvb.PasswordTextEnv, err)
	}

	cases := []struct {
		name string
		code string
		call func(t *testing.T) error
	}{
		{"unknown access key", "auth.bad_signature", func(t *testing.T) error {
			// docs/soap-systems.md: unknown key and wrong secret get the
			// same answer, not to tell which keys exist.
			return sendDoc(token(t, qlvbUnknownAK, s.SecretKey, true))
		}},
		{"wrong password", "auth.bad_signature", func(t *testing.T) error {
			return sendDoc(token(t, s.AccessKey, s.SecretKey+"x", true))
		}},
		{"wrong password SOAP 1.2", "auth.bad_signature", func(t *testing.T) error {
			return sendDoc(token(t, s.AccessKey, "sai-mat-khau", true, soap.WithVersion(soap.V12)))
		}},
		{"no credentials", "auth.missing", func(t *testing.T) error { return sendDoc(cli(t)) }},
		{"revoked key", "auth.key_revoked", func(t *testing.T) error {
			ak, sk, err := reg.IssueKey(ctx, qlvbSender, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			c := token(t, ak, sk, true)
			if err := agencies(c); err != nil {
				t.Fatalf("the new key before revocation: %v", err)
			}
			if err := reg.RevokeKey(ctx, ak); err != nil {
				t.Fatal(err)
			}
			return sendDoc(c)
		}},
		{"expired key", "auth.key_expired", func(t *testing.T) error {
			ak, sk, err := reg.IssueKey(ctx, qlvbSender, time.Now().Add(1500*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			c := token(t, ak, sk, true)
			if err := agencies(c); err != nil {
				t.Fatalf("the key before it expires: %v", err)
			}
			eventually(t, "the key expires", func() (bool, error) {
				err := agencies(c)
				var f *soap.Fault
				if err != nil && (!errors.As(err, &f) || f.LGSPCode != "auth.key_expired") {
					t.Fatalf("while waiting for the expiry: %v", err)
				}
				return err != nil, err
			})
			return sendDoc(c)
		}},
		{"suspended system", "auth.system_suspended", func(t *testing.T) error {
			c := token(t, u.AccessKey, u.SecretKey, true)
			if err := agencies(c); err != nil {
				t.Fatalf("before suspension: %v", err)
			}
			if err := reg.Suspend(ctx, qlvbSuspended); err != nil {
				t.Fatal(err)
			}
			return sendDoc(c)
		}},
		{"PasswordText not allowed", "auth.algorithm", func(t *testing.T) error {
			return sendDoc(token(t, s.AccessKey, s.SecretKey, false))
		}},
		{"replayed UsernameToken", "auth.replay", func(t *testing.T) error {
			nonce := []byte("lgsp-nonce-replay-" + bus.RandomToken(8))
			c := cli(t, soap.WithSOAPHeader(wsseToken(s.AccessKey, s.SecretKey, nonce, time.Now())))
			if err := agencies(c); err != nil {
				t.Fatalf("the first use of the token: %v", err)
			}
			return sendDoc(c) // the same wsse:Security again
		}},
		{"stale Created", "auth.clock_skew", func(t *testing.T) error {
			return sendDoc(cli(t, soap.WithSOAPHeader(wsseToken(s.AccessKey, s.SecretKey, []byte(bus.RandomToken(16)), time.Now().Add(-10*time.Minute)))))
		}},
		{"Created in the future", "auth.clock_skew", func(t *testing.T) error {
			return sendDoc(cli(t, soap.WithSOAPHeader(wsseToken(s.AccessKey, s.SecretKey, []byte(bus.RandomToken(16)), time.Now().Add(10*time.Minute)))))
		}},
		{"locked after a burst of bad passwords", "auth.locked", func(t *testing.T) error {
			bad := token(t, l.AccessKey, "sai-mat-khau", true)
			for i := range qlvbLockAfter {
				if err := sendDoc(bad); err == nil {
					t.Fatalf("bad password %d accepted", i)
				} else if i < qlvbLockAfter-1 {
					wantSOAPFault(t, err, "auth.bad_signature")
				}
			}
			return sendDoc(token(t, l.AccessKey, l.SecretKey, true)) // the right password
		}},
		{"no grant for the recipient", "auth.forbidden", func(t *testing.T) error {
			pkt, _ := qlvbPackets(t, qlvbOutsider, qlvbRecipient, edxml.StatusAccepted, "")
			err := send(token(t, o.AccessKey, o.SecretKey, true), []byte(base64.StdEncoding.EncodeToString(pkt)))
			if k := sentBy(t, qlvbOutsider); k != 0 {
				t.Errorf("the refused sendEdoc left %d exchanges of %s", k, qlvbOutsider)
			}
			return err
		}},
		{"inline edxml over MaxEdocBytes", "request.too_large", func(t *testing.T) error {
			// Base64 of MaxEdocBytes+3 bytes: the envelope is within the
			// SOAP body limit, the packet is not within the inline one.
			// Sent as RawXML: encoding/xml would take seconds to escape it.
			var body bytes.Buffer
			body.WriteString(`<sendEdoc xmlns="urn:lgsp:edoc:v1"><edxml>`)
			body.Write(bytes.Repeat([]byte("A"), base64.StdEncoding.EncodedLen(qlvb.MaxEdocBytes+3)))
			body.WriteString(`</edxml></sendEdoc>`)
			_, err := good.CallRaw(ctx, lgspedoc.ActionSendEdoc, body.Bytes())
			return err
		}},
		{"SOAP body over the limit", "request.too_large", func(t *testing.T) error {
			// Expect: 100-continue: the server refuses on Content-Length
			// and the body is never sent.
			c := token(t, s.AccessKey, s.SecretKey, true, soap.WithHTTPHeader("Expect", "100-continue"))
			body := bytes.Repeat([]byte("A"), base64.StdEncoding.EncodedLen(qlvb.MaxEdocBytes)+2<<20)
			copy(body, `<sendEdoc xmlns="urn:lgsp:edoc:v1"><edxml>`)
			copy(body[len(body)-len(`</edxml></sendEdoc>`):], `</edxml></sendEdoc>`)
			_, err := c.CallRaw(ctx, lgspedoc.ActionSendEdoc, body)
			return err
		}},
		{"malformed edXML", "edxml.invalid", func(t *testing.T) error {
			return send(good, []byte(base64.StdEncoding.EncodeToString([]byte("<edXML><oops/>"))))
		}},
		{"getEdoc of someone else's exchange", "exchange.not_found", func(t *testing.T) error {
			var resp lgspedoc.GetEdocResponse
			return token(t, o.AccessKey, o.SecretKey, true).Call(ctx, lgspedoc.ActionGetEdoc, &lgspedoc.GetEdoc{DocId: sent.DocId}, &resp)
		}},
		{"bad HTTP signature", "auth.bad_signature", func(t *testing.T) error {
			return sendDoc(cli(t, soap.WithTransport(signingTransport{ak: s.AccessKey, sk: s.SecretKey + "x"})))
		}},
		{"HTTP signature over another body", "auth.body_hash", func(t *testing.T) error {
			return sendDoc(cli(t, soap.WithTransport(signingTransport{ak: s.AccessKey, sk: s.SecretKey, bodySHA: auth.HashBody([]byte("<khac/>"))})))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := sentAll(t)
			wantSOAPFault(t, tc.call(t), tc.code)
			if after := sentAll(t); after != before {
				t.Fatalf("a refused request changed the exchanges: %d sent before, %d after", before, after)
			}
		})
	}

	// The recipient's inbox holds only the one valid document.
	if items, err := n.svc.Exchange().Inbox(ctx, qlvbRecipient); err != nil || len(items) > 1 {
		t.Fatalf("inbox of %s: %d items, %v", qlvbRecipient, len(items), err)
	}

	t.Run("HTTP signature instead of UsernameToken", func(t *testing.T) {
		before := sentBy(t, qlvbSender)
		c := cli(t, soap.WithTransport(signingTransport{ak: s.AccessKey, sk: s.SecretKey}))
		var resp lgspedoc.SendEdocResponse
		if err := c.Call(ctx, lgspedoc.ActionSendEdoc, &lgspedoc.SendEdoc{Edxml: []byte(base64.StdEncoding.EncodeToString(doc))}, &resp); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(resp.DocId, "ex") || resp.Status != "accepted" || sentBy(t, qlvbSender) != before+1 {
			t.Fatalf("signed sendEdoc: %+v", resp)
		}
		var list lgspedoc.GetSentEdocListResponse
		if err := c.Call(ctx, lgspedoc.ActionGetSentEdocList, &lgspedoc.GetSentEdocList{DocId: resp.DocId}, &list); err != nil || list.Count != 1 {
			t.Fatalf("signed getSentEdocList: %v %+v", err, list)
		}
	})
}

// TestQLVBUsernameTokenReplayAcrossNodes: behind a load balancer, a
// UsernameToken accepted by one node is a replay on the other (the nonces
// go to the node's replay cache, in the shared store on MariaDB), and a
// token whose nonce is longer than 64 bytes is refused as malformed.
func TestQLVBUsernameTokenReplayAcrossNodes(t *testing.T) {
	dsn, _ := freshMySQL(t)
	key := filepath.Join(t.TempDir(), "master.key")
	dir := routesWith(t, map[string]string{"edxml.yaml": qlvbRoute})
	on := func(name string) func(*service.Config) {
		return func(c *service.Config) {
			c.Store, c.MasterKeyFile, c.Node, c.RoutesDir, c.PublicURL = dsn, key, name, dir, ""
		}
	}
	a := startNodeWith(t, "sqlite", on("node-a"))
	b := startNodeWith(t, "sqlite", on("node-b"))
	ctx := context.Background()
	s := a.system(t, qlvbSender, "Sở Nội vụ — QLVB")
	agencies := func(n *node, hdr soap.RawXML) error {
		c, err := soap.NewClient(n.url+qlvb.Path, soap.WithTimeout(time.Minute), soap.WithSOAPHeader(hdr))
		if err != nil {
			t.Fatal(err)
		}
		var resp lgspedoc.GetAgencyListResponse
		return c.Call(ctx, lgspedoc.ActionGetAgencyList, &lgspedoc.GetAgencyList{}, &resp)
	}
	tok := wsseToken(s.AccessKey, s.SecretKey, []byte("lgsp-nonce-two-nodes-"+bus.RandomToken(8)), time.Now())
	if err := agencies(a, tok); err != nil {
		t.Fatalf("the token on node A: %v", err)
	}
	wantSOAPFault(t, agencies(b, tok), "auth.replay")
	long := wsseToken(s.AccessKey, s.SecretKey, bytes.Repeat([]byte("n"), 65), time.Now())
	wantSOAPFault(t, agencies(b, long), "auth.malformed")
}
