package soap

import (
	"encoding/base64"
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// fastOp is an operation shaped like the generated ones, with every kind
// of field a placeholder can land in.
type fastOp struct {
	XMLName xml.Name `xml:"urn:lgsp:edoc:v1 sendEdoc"`
	Edxml   []byte   `xml:"urn:lgsp:edoc:v1 edxml,omitempty"`
	Name    string   `xml:"urn:lgsp:edoc:v1 name,omitempty"`
	To      []string `xml:"urn:lgsp:edoc:v1 to,omitempty"`
	Count   int      `xml:"urn:lgsp:edoc:v1 count,omitempty"`
	Attr    string   `xml:"kind,attr,omitempty"`
	Part    *struct {
		Data []byte `xml:"urn:lgsp:edoc:v1 data,omitempty"`
		Text string `xml:",chardata"`
	} `xml:"urn:lgsp:edoc:v1 part,omitempty"`
	Any []anyEl `xml:",any"`
}

type anyEl struct {
	XMLName xml.Name
	Inner   string `xml:",innerxml"`
}

// decodeBoth decodes the body of envelope the way the server does (the
// scanner's cut path) and with encoding/xml alone.
func decodeBoth(t *testing.T, envelope []byte) (fast, plain any, fastErr, plainErr error) {
	t.Helper()
	run := func(cut bool) (any, error) {
		r := newRequestReader(envelope)
		if err := r.envelope(); err != nil {
			return nil, err
		}
		first, off, ok, err := r.headerAndBody(func(b headerBlock) error { return r.dec.Skip() })
		if err != nil || !ok {
			return nil, err
		}
		newV := func() any { return new(fastOp) }
		if !cut {
			v := newV()
			return v, r.dec.DecodeElement(v, &first)
		}
		return r.decodeBody(newV, first, off)
	}
	fast, fastErr = run(true)
	plain, plainErr = run(false)
	return
}

func envelopeWith(body string) []byte {
	return []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:x xmlns:h="urn:h"/></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
}

// TestDecodeBodyCutsLongBase64: a sendEdoc-like body with a long packet is
// decoded through the cut path and gives encoding/xml's result.
func TestDecodeBodyCutsLongBase64(t *testing.T) {
	packet := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("<edXML>văn bản</edXML>", 200)))
	wrapped := strings.Join([]string{packet[:76], packet[76:152], packet[152:]}, "\n")
	bodies := []string{
		`<e:sendEdoc xmlns:e="urn:lgsp:edoc:v1" kind="k"><e:edxml>` + packet + `</e:edxml><e:to>a</e:to><e:to>b</e:to><e:count>3</e:count></e:sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><edxml>` + wrapped + `</edxml><name>` + packet + `</name><part><data>` + packet + `</data></part></sendEdoc>`,
		// Not whole fields: mixed content, a number, an unknown element.
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><part>` + packet + `<data>x</data></part></sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><count>` + strings.Repeat("1", 2000) + `</count></sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><other>` + packet + `</other></sendEdoc>`,
		// Text encoding/xml would change: a carriage return, an entity.
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><edxml>` + packet[:2000] + "\r\n" + packet[2000:] + `</edxml></sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><edxml>` + packet[:2000] + "&#65;" + packet[2000:] + `</edxml></sendEdoc>`,
		// The Header's namespaces are not in force in the Body.
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><h:edxml>` + packet + `</h:edxml></sendEdoc>`,
	}
	for i, b := range bodies {
		fast, plain, fe, pe := decodeBoth(t, envelopeWith(b))
		if (fe == nil) != (pe == nil) || (fe == nil && !reflect.DeepEqual(fast, plain)) {
			t.Fatalf("body %d: cut path %v (%v), encoding/xml %v (%v)", i, fast, fe, plain, pe)
		}
	}
	fast, _, err, _ := decodeBoth(t, envelopeWith(bodies[0]))
	if err != nil || string(fast.(*fastOp).Edxml) != packet {
		t.Fatalf("the packet did not come back whole: %v", err)
	}
	if end, runs, ok := scanElement([]byte(bodies[1])); !ok || end != len(bodies[1]) || len(runs) != 3 {
		t.Fatalf("scanElement found %d runs, end %d of %d, ok %v: the cut path was not taken", len(runs), end, len(bodies[1]), ok)
	}
}

// FuzzDecodeBodyMatchesDecoder: whatever the body, the cut path gives what
// encoding/xml alone gives (both fail, or both decode the same value).
func FuzzDecodeBodyMatchesDecoder(f *testing.F) {
	old := minCut
	minCut = 2
	f.Cleanup(func() { minCut = old })
	for _, s := range []string{
		`<e:sendEdoc xmlns:e="urn:lgsp:edoc:v1"><e:edxml>QUJD</e:edxml><e:to>a</e:to></e:sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1" kind="x"><name>ab cd</name><part><data>eHl6</data></part><count>12</count></sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><part>QUJD<data>x</data></part><!-- c --><?p x?><x:y xmlns:x="urn:x">QUJD</x:y></sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"><edxml><![CDATA[QUJD]]></edxml><to>QQ==</to><to>Qg==</to></sendEdoc>`,
		`<sendEdoc xmlns="urn:lgsp:edoc:v1"/>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fast, plain, fe, pe := decodeBoth(t, envelopeWith(body))
		if (fe == nil) != (pe == nil) || (fe != nil && fe.Error() != pe.Error()) {
			t.Fatalf("cut path error %v, encoding/xml error %v", fe, pe)
		}
		if fe == nil && !reflect.DeepEqual(fast, plain) {
			t.Fatalf("cut path %+v, encoding/xml %+v", fast, plain)
		}
	})
}

// BenchmarkDecodeBody: a sendEdoc body with a 1 MB base64 packet through
// the cut path and through encoding/xml alone, and the worst case of the
// cut path (both refuse the number, with the same error).
func BenchmarkDecodeBody(b *testing.B) {
	packet := base64.StdEncoding.EncodeToString(make([]byte, 768<<10))
	whole := envelopeWith(`<sendEdoc xmlns="urn:lgsp:edoc:v1"><edxml>` + packet + `</edxml><to>a</to></sendEdoc>`)
	// The worst case: a run the cut path must give back (a number field
	// refuses the placeholder), so the element is decoded twice.
	worst := envelopeWith(`<sendEdoc xmlns="urn:lgsp:edoc:v1"><to>` + packet + `</to><count>` + strings.Repeat("1", 4096) + `</count></sendEdoc>`)
	for _, c := range []struct {
		name string
		env  []byte
		cut  bool
	}{{"packet/cut", whole, true}, {"packet/encoding-xml", whole, false}, {"given-back/cut", worst, true}, {"given-back/encoding-xml", worst, false}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.env)))
			for b.Loop() {
				r := newRequestReader(c.env)
				if err := r.envelope(); err != nil {
					b.Fatal(err)
				}
				first, off, _, err := r.headerAndBody(func(headerBlock) error { return r.dec.Skip() })
				if err != nil {
					b.Fatal(err)
				}
				if c.cut {
					_, err = r.decodeBody(func() any { return new(fastOp) }, first, off)
				} else {
					err = r.dec.DecodeElement(new(fastOp), &first)
				}
				if err != nil && !strings.HasPrefix(c.name, "given-back") {
					b.Fatal(err)
				}
			}
		})
	}
}
