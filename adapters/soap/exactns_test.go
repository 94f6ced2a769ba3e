package soap

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

// Shapes fixgen writes for an unqualified JAX-WS schema importing a
// qualified one: the wrapper in the service namespace, arg0 and its
// children in no namespace, agency (a ref) in another namespace.
type jaxAgency struct {
	Code string `xml:"urn:common agencyCode"`
}

type jaxDoc struct {
	Title  string     `xml:"title"`
	Agency *jaxAgency `xml:"urn:common agency"`
}

type jaxPush struct {
	XMLName xml.Name `xml:"urn:svc pushDocument"`
	Arg0    *jaxDoc  `xml:"arg0"`
	Arg1    string   `xml:"urn:svc arg1"`
}

func (*jaxPush) SOAPExactNamespaces() {}

func TestExactNamespaces(t *testing.T) {
	var b bytes.Buffer
	v := &jaxPush{Arg0: &jaxDoc{Title: "a<b", Agency: &jaxAgency{Code: "H60"}}, Arg1: "x"}
	if err := marshalValue(&b, v); err != nil {
		t.Fatal(err)
	}
	want := `<pushDocument xmlns="urn:svc"><arg0 xmlns=""><title>a&lt;b</title><agency xmlns="urn:common"><agencyCode>H60</agencyCode></agency></arg0><arg1>x</arg1></pushDocument>`
	if b.String() != want {
		t.Fatalf("got  %s\nwant %s", b.String(), want)
	}
	// What a namespace-aware reader sees: each element where its tag says.
	d := xml.NewDecoder(&b)
	got := map[string]string{}
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			got[se.Name.Local] = se.Name.Space
		}
	}
	for el, ns := range map[string]string{"pushDocument": "urn:svc", "arg0": "", "title": "", "agency": "urn:common", "agencyCode": "urn:common", "arg1": "urn:svc"} {
		if got[el] != ns {
			t.Errorf("%s in %q, want %q", el, got[el], ns)
		}
	}
	// Without the marker, encoding/xml's output is left as it is.
	b.Reset()
	if err := marshalValue(&b, struct {
		XMLName xml.Name `xml:"urn:svc x"`
		A       string   `xml:"a"`
	}{A: "1"}); err != nil {
		t.Fatal(err)
	}
	if b.String() != `<x xmlns="urn:svc"><a>1</a></x>` {
		t.Errorf("unmarked: %s", b.String())
	}
}

// FuzzExactNS: any input either fails or gives XML that parses whenever
// the input parses, with the same elements and text.
func FuzzExactNS(f *testing.F) {
	f.Add([]byte(`<a xmlns="u"><b xmlns=""><c>t</c></b><d xmlns="u">&amp;</d></a>`))
	f.Add([]byte(`<p:a xmlns:p="u" p:x="1"><!--c--><?pi x?></p:a>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := exactNS(in)
		if err != nil {
			return
		}
		want, errIn := locals(in)
		got, errOut := locals(out)
		if errIn == nil && (errOut != nil || got != want) {
			t.Fatalf("in %q\nout %q\n%v: %q vs %q", in, out, errOut, got, want)
		}
	})
}

// locals lists the local names and text of a document.
func locals(x []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(x))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return b.String(), nil
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			b.WriteString("<" + t.Name.Local)
		case xml.CharData:
			b.Write(t)
		}
	}
}

// BenchmarkExactNSWorstCase: a deep, wide body (what a large push carries).
func BenchmarkExactNSWorstCase(b *testing.B) {
	var in bytes.Buffer
	in.WriteString(`<r xmlns="urn:svc">`)
	for i := 0; i < 10000; i++ {
		in.WriteString(`<item xmlns="urn:svc"><v>text &amp; more</v></item>`)
	}
	in.WriteString(`</r>`)
	b.ReportAllocs()
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		if _, err := exactNS(in.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
