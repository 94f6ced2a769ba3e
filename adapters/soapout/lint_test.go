package soapout_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/adapters/soapout"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/wsdl/consumed/gen/dossierjaxws"
	"github.com/tuyenquang/lgsp/wsdl/consumed/gen/hoadonasmx"
)

func fm(field, src string, line int) soap.FieldMap {
	return soap.FieldMap{Field: field, Source: src, Line: line, Col: 7}
}

// jaxMapping is a complete mapping of the JAX-WS RI pushDocument: through
// the embedded *BaseDocument (code, type), the dateTime/date/time fields,
// the enumeration, a reserved word (range → Range_), the qualified ref
// agency of the imported schema and the repeated files.
var jaxMapping = []soap.FieldMap{
	fm("Arg0.Code", "exchange_id", 1), fm("Arg0.Type_", "data_type", 2), fm("Arg0.Title", "title", 3),
	fm("Arg0.ReceivedAt", "created_at", 4), fm("Arg0.DueDate", "const:2026-12-31", 5), fm("Arg0.OfficeHour", "const:08:30:00", 6),
	fm("Arg0.Status", "const:NEW", 7), fm("Arg0.Range_", "priority", 8), fm("Arg0.Agency.AgencyCode", "source", 9),
	fm("Arg0.Files[].FileName", "attachment.name", 10), fm("Arg0.Files[].Content", "attachment.content", 11), fm("Arg1", "recipient", 12),
}

func TestLintMappingAcceptsComplete(t *testing.T) {
	for key, m := range map[string][]soap.FieldMap{
		"dossier-jaxws/pushDocument": jaxMapping,
		"hoadon-asmx/ImportInv": {fm("XmlInvData", "content", 1), fm("Convert", "const:0", 2), fm("IssueDate", "created_at", 3),
			fm("PatternIds.Int", "const:7", 4), fm("Serials.Astring", "title", 5), fm("InvType", "const:VAT", 6)},
	} {
		b, ok := soap.Lookup(key)
		if !ok {
			t.Fatalf("%s is not registered", key)
		}
		if ps := soapout.LintMapping(b, m, true); len(ps) != 0 {
			t.Errorf("%s: %+v", key, ps)
		}
	}
}

func TestLintMappingRefuses(t *testing.T) {
	b, _ := soap.Lookup("dossier-jaxws/pushDocument")
	ps := soapout.LintMapping(b, []soap.FieldMap{
		fm("Arg0.Nope", "title", 1),               // no such field
		fm("Arg0.Extra.InnerXML", "title", 2),     // xsd:any: raw XML
		fm("Arg0.ReceivedAt", "title", 3),         // text into a dateTime
		fm("Arg0.Range_", "const:mười", 4),        // not a number
		fm("Arg0.DueDate", "const:31/12/2026", 5), // not an xsd:date
		fm("Arg0.Files", "attachment.name", 6),    // a list of structs
		fm("Arg0.Agency", "source", 7),            // a complex element
		fm("Arg0.Code", "exchange_id", 8),         // fine: through *BaseDocument
	}, true)
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%d: %s", p.Line, p.Msg))
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"1: mapping: Arg0.Nope: dossierjaxws.OssDocument has no field Nope (fields: ",
		"2: mapping: Arg0.Extra.InnerXML holds raw XML",
		"3: mapping: Arg0.ReceivedAt: title is text and cannot go into soap.XSDDateTime",
		"4: mapping: Arg0.Range_: the constant cannot go into int32",
		"5: mapping: Arg0.DueDate: the constant cannot go into soap.XSDDate",
		"6: mapping: Arg0.Files is a repeated element",
		"7: mapping: Arg0.Agency is a complex element",
		"0: mapping: required element(s) of PushDocument not mapped: Arg0.Title, Arg0.Status, Arg0.Agency",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in\n%s", want, all)
		}
	}
	if strings.Contains(all, "mười") || strings.Contains(all, "31/12/2026") {
		t.Errorf("a value is quoted in a problem:\n%s", all)
	}
	if len(ps) != 8 {
		t.Errorf("%d problems, want 8:\n%s", len(ps), all)
	}
}

// TestMapThroughNilEmbeddedPointer: the mapping lint accepts, run on the
// generated type, allocates the nil embedded *BaseDocument instead of
// panicking (the crash of issue 17), and sets the dates.
func TestMapThroughNilEmbeddedPointer(t *testing.T) {
	b, _ := soap.Lookup("dossier-jaxws/pushDocument")
	req := b.NewRequest().(*dossierjaxws.PushDocument)
	for _, m := range jaxMapping {
		var v any = "x"
		switch m.Source {
		case "created_at":
			v = time.Date(2026, 12, 5, 8, 30, 0, 0, time.FixedZone("ICT", 7*3600))
		case "priority":
			v = int64(2)
		case "attachment.name", "attachment.content":
			v = []any{"a.pdf"}
		}
		if strings.HasPrefix(m.Source, "const:") {
			v = strings.TrimPrefix(m.Source, "const:")
		}
		if err := soap.SetField(req, m.Field, v); err != nil {
			t.Fatalf("%s: %v", m.Field, err)
		}
	}
	if req.Arg0.BaseDocument == nil || req.Arg0.Code != "x" || req.Arg0.Range_ != 2 || *req.Arg0.Status != dossierjaxws.DocumentStatusNEW {
		t.Fatalf("request %+v", req.Arg0)
	}
	if got := req.Arg0.ReceivedAt.ToGoTime().UTC(); !got.Equal(time.Date(2026, 12, 5, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("receivedAt = %s", got)
	}
	if got := req.Arg0.DueDate.ToGoTime(); got.Format("2006-01-02") != "2026-12-31" {
		t.Errorf("dueDate = %s", got)
	}
	// An empty date (an edXML field absent from the packet) is an error,
	// never a silently dropped required element; its text is not quoted.
	for _, v := range []any{"", time.Time{}, "hôm nay"} {
		err := soap.SetField(new(dossierjaxws.PushDocument), "Arg0.ReceivedAt", v)
		if err == nil || strings.Contains(err.Error(), "hôm nay") {
			t.Errorf("%#v: %v", v, err)
		}
	}
	// .NET ArrayOfInt items: one per value.
	inv := new(hoadonasmx.ImportInv)
	if err := soap.SetField(inv, "PatternIds.Int", []any{int64(1), "2"}); err != nil || len(inv.PatternIds.Int) != 2 || inv.PatternIds.Int[1] != 2 {
		t.Fatalf("ArrayOfInt: %v %+v", err, inv.PatternIds)
	}
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&soap.Fault{Code: "Client", String: "bad"}, true},
		{&soap.Fault{Code: "Sender", String: "bad"}, true},
		{&soap.Fault{Code: "Server", String: "busy"}, false},
		{bus.ErrServiceDown.Wrap(&soap.HTTPError{StatusCode: 404, Reason: errors.New("x")}, "x"), true},
		{bus.ErrServiceDown.Wrap(&soap.HTTPError{StatusCode: 400, Reason: errors.New("x")}, "x"), true},
		{bus.ErrServiceDown.Wrap(&soap.HTTPError{StatusCode: 408, Reason: errors.New("x")}, "x"), false},
		{bus.ErrServiceBusy.Wrap(&soap.HTTPError{StatusCode: 429, Reason: errors.New("x")}, "x"), false},
		{bus.ErrServiceDown.Wrap(&soap.HTTPError{StatusCode: 502, Reason: errors.New("x")}, "x"), false},
		{fmt.Errorf("marshalling SOAP request: %w: %w", soap.ErrMarshal, errors.New("xml: name conflict")), true},
		{bus.ErrServiceTimeout.New("slow"), false},
		{bus.ErrServiceDown.New("refused"), false},
	} {
		if got := soapout.Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %t", tc.err, got)
		}
	}
}

func TestCheckAnswer(t *testing.T) {
	rule := soapout.AnswerRule{
		Success: &soapout.AnswerTest{Field: "ImportInvResult", Prefix: "OK:"},
		Refusal: &soapout.AnswerTest{Field: "ImportInvResult", Prefix: "ERR:"},
	}
	answer := func(s string) any { return &hoadonasmx.ImportInvResponse{ImportInvResult: s} }
	if err := soapout.CheckAnswer(rule, answer("OK:1/001;C26TAA;0000012")); err != nil {
		t.Fatal(err)
	}
	var ae *soapout.AnswerError
	if err := soapout.CheckAnswer(rule, answer("ERR:20")); !errors.As(err, &ae) || ae.Text != "ERR:20" || !strings.Contains(err.Error(), "refusal rule") {
		t.Fatalf("ERR:20: %v", err)
	}
	long := "lỗi " + strings.Repeat("x", 500)
	if err := soapout.CheckAnswer(rule, answer(long)); !errors.As(err, &ae) || len(ae.Text) > soapout.MaxAnswerText+len("…") || !strings.Contains(err.Error(), "success rule") {
		t.Fatalf("unexpected answer: %v", err)
	}
	present := soapout.AnswerRule{Success: &soapout.AnswerTest{Field: "ImportInvResult", Present: true}}
	if err := soapout.CheckAnswer(present, answer("")); err == nil {
		t.Fatal("an empty field passed present")
	}
	if err := soapout.CheckAnswer(soapout.AnswerRule{}, answer("ERR:1")); err != nil {
		t.Fatal("no rule: any fault-free answer is accepted")
	}
	eq := soapout.AnswerRule{Success: &soapout.AnswerTest{Field: "Return_", Equals: "0"}}
	if err := soapout.CheckAnswer(eq, &dossierjaxws.PushDocumentResponse{Return_: "0"}); err != nil {
		t.Fatal(err)
	}
}
