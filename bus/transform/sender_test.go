package transform

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
)

// speaksFor returns a SpeaksFor of source that also allows listed organs,
// and counts its calls.
func speaksFor(source string, calls *int, listed ...string) func(ctx context.Context, organ string) error {
	return func(_ context.Context, organ string) error {
		*calls++
		if organ == source {
			return nil
		}
		for _, l := range listed {
			if l == organ {
				return nil
			}
		}
		return bus.ErrSenderMismatch.New("%s may not speak for %s", source, bus.ShowCode(organ))
	}
}

// TestStepsBindSenderToSource: the steps that build or validate an edXML
// packet refuse a From/OrganId that the exchange's source may not speak for
// (edxml.sender_mismatch), accept the source's own code and an organ listed
// for it, and without a SpeaksFor accept the source's code only.
func TestStepsBindSenderToSource(t *testing.T) {
	good, err := os.ReadFile("testdata/json/cong-van.edxml")
	if err != nil {
		t.Fatal(err)
	}
	const own, unit, foreign = "000.00.00.H60", "000.00.05.H60", "000.00.09.H60"
	if !bytes.Contains(good, []byte("<OrganId>"+own+"</OrganId>")) {
		t.Fatalf("the sample's From is not %s", own)
	}
	from := func(organ string) []byte {
		return bytes.Replace(good, []byte("<OrganId>"+own+"</OrganId>"), []byte("<OrganId>"+organ+"</OrganId>"), 1)
	}
	validate := mustBuild(t, "edxml_validate", "", ".")
	fromJSON := mustBuild(t, "edxml_from_json", "", ".")
	cases := []struct {
		name    string
		step    bus.Step
		json    bool
		content []byte
		media   string
		listed  []string
		nilFn   bool
		want    bus.Code // "" = accepted
	}{
		{"validate own", validate, false, good, "application/xml", nil, false, ""},
		{"validate foreign", validate, false, from(foreign), "application/xml", nil, false, bus.ErrSenderMismatch.Code},
		{"validate listed unit", validate, false, from(unit), "application/xml", []string{unit}, false, ""},
		{"validate foreign, route test without registry", validate, false, from(foreign), "application/xml", nil, true, bus.ErrSenderMismatch.Code},
		{"json own", fromJSON, true, []byte(`{"from":{"organ_id":"` + own + `"}}`), "application/json", nil, false, ""},
		{"json foreign", fromJSON, true, []byte(`{"from":{"organ_id":"` + foreign + `"}}`), "application/json", []string{unit}, false, bus.ErrSenderMismatch.Code},
		{"json listed unit", fromJSON, true, []byte(`{"from":{"organ_id":"` + unit + `"}}`), "application/json", []string{unit}, false, ""},
		{"json foreign without registry", fromJSON, true, []byte(`{"from":{"organ_id":"` + foreign + `"}}`), "application/json", nil, true, bus.ErrSenderMismatch.Code},
		{"json not a code, not echoed", fromJSON, true, []byte(`{"from":{"organ_id":"MARKER-văn bản mật"}}`), "application/json", nil, true, bus.ErrSenderMismatch.Code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := message(tc.content, tc.media)
			calls := 0
			if !tc.nilFn {
				m.SpeaksFor = speaksFor(m.Source, &calls, tc.listed...)
			}
			err := tc.step.Process(context.Background(), m)
			if bus.CodeOf(err) != tc.want {
				t.Fatalf("Process = %v, want %q", err, tc.want)
			}
			if !tc.nilFn && calls == 0 && tc.want != "" {
				t.Error("the registry was not asked")
			}
			if err != nil && strings.Contains(err.Error(), "MARKER") {
				t.Errorf("the refusal echoes packet text: %v", err)
			}
			if tc.want == "" && tc.json {
				p, err := edxml.Parse(bytes.NewReader(payload(t, m)), nil)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := p.Envelope.Header.MessageHeader.From.OrganId, strings.Split(strings.Split(string(tc.content), `"organ_id":"`)[1], `"`)[0]; got != want {
					t.Errorf("From/OrganId = %s, want %s", got, want)
				}
			}
		})
	}
}
