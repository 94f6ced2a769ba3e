package xmldsig

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary bytes to Check under every policy: it must
// never panic, every error must carry one of the package's codes, and a
// verified result must name the trusted signer and carry the signed element.
//
// Run it with a short minimization time: each new input that reaches a
// signature check costs an RSA operation, and the default of 60 s per
// minimization stalls the workers for most of a one-minute run:
//
//	go test -run '^$' -fuzz FuzzVerify -fuzztime 60s -fuzzminimizetime 2s ./bus/xmldsig/
func FuzzVerify(f *testing.F) {
	p := getPKI(f)
	for _, tc := range []struct {
		opts   SignOptions
		rootID string
	}{{SignOptions{}, ""}, {SignOptions{Algorithm: RSASHA1, C14N: Inclusive}, "pkt-1"}} {
		signed, err := p.signer(f, false, tc.opts).Sign(edxmlDoc(tc.rootID, 200))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signed)
		f.Add(bytes.Replace(signed, []byte("Công văn</"), []byte("Quyết định</"), 1))
	}
	f.Add(withSig(placeholderSig("", staticSigValue, "MIIFqTCCBJG")))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Add([]byte(`<a xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:Signature><ds:SignedInfo/><ds:SignatureValue/></ds:Signature></a>`))
	f.Add([]byte(""))
	now := time.Now()
	v := &Verifier{Roots: pool(p.root), Now: func() time.Time { return now }, MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, pol := range []Policy{Require, VerifyIfPresent, Ignore} {
			res, _, err := v.Check(doc, pol)
			if err != nil {
				if res != nil {
					t.Fatalf("%s: result with error %v", pol, err)
				}
				if !slices.Contains(Codes, CodeOf(err)) {
					t.Fatalf("%s: error without a code: %v", pol, err)
				}
				continue
			}
			if res != nil && (res.Cert == nil || len(signedOf(t, res)) == 0 || !res.Chain[len(res.Chain)-1].Equal(p.root)) {
				t.Fatalf("%s: incomplete result %+v", pol, res)
			}
		}
	})
}
