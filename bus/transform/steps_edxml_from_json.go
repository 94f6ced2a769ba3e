package transform

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
)

// FromJSONConfig configures the edxml_from_json step; it has no settings
// yet (an empty mapping), and unknown fields are refused.
type FromJSONConfig struct{}

// now is the clock of the TraceHeader timestamp (tests fix it).
var now = time.Now

func init() {
	bus.DefaultSteps.Register(bus.StepSpec{
		Name:    "edxml_from_json",
		Summary: "Maps a JSON document (the shape in docs/edxml.md, files as base64) and the exchange metadata (source → From, recipients → To, title → Subject, importance → Priority) into an edXML document packet, streaming the files, and replaces the payload with it (application/xml).",
		Example: `- edxml_from_json: {}`,
		New:     newFromJSON,
	})
}

func newFromJSON(decode func(into any) error) (bus.Step, error) {
	var c FromJSONConfig
	if err := decode(&c); err != nil {
		return nil, err
	}
	const step = "edxml_from_json"
	return bus.StepFunc(func(ctx context.Context, m *bus.Message) error {
		if err := needContent(step, m, true); err != nil {
			return err
		}
		p, err := PacketFromJSON(m.Open, metaOf(ctx, m))
		if err != nil {
			return contentFailure(step, err)
		}
		if err := replaceWith(ctx, step, m, func(w io.Writer) error { return edxml.Build(w, p) }); err != nil {
			return err
		}
		m.Label("edxml.files", strconv.Itoa(len(p.Attachments)))
		return nil
	}), nil
}

// metaOf is the exchange metadata of m; a from organ other than the source
// is checked against the organs the source speaks for.
func metaOf(ctx context.Context, m *bus.Message) Meta {
	return Meta{Source: m.Source, Recipients: m.Recipients, Title: m.Title, Importance: m.Importance, Now: now(),
		SpeaksFor: func(organ string) error { return m.CheckSender(ctx, organ) }}
}
