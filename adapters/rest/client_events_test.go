package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tuyenquang/lgsp/bus/notify"
)

// sseServer answers GET /v1/events with the given body and records the
// Last-Event-ID it was asked for.
func sseServer(t *testing.T, body string, gotAfter *string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*gotAfter = r.Header.Get("Last-Event-ID")
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const sseBody = ": lgsp events for B\n\n" +
	"id: 7\nevent: notified\ndata: {\"id\":7,\"exchange_id\":\"ex_1\",\"kind\":\"notified\",\"at\":\"2026-12-05T00:00:00Z\",\"recipient\":\"B\",\"source\":\"A\"}\n\n" +
	": ping\n\n" +
	"id: 12\nevent: cancelled\ndata: {\"id\":12,\"exchange_id\":\"ex_2\",\"kind\":\"cancelled\",\"at\":\"2026-12-05T00:00:01Z\",\"recipient\":\"B\"}\n\n" +
	"event: closing\ndata: {\"reason\":\"the node is shutting down\"}\n\n"

func TestEventsDecodesFrames(t *testing.T) {
	var after string
	srv := sseServer(t, sseBody, &after)
	c := &Client{BaseURL: srv.URL, AccessKey: "ak", SecretKey: "sk"}
	var got []notify.Event
	err := c.Events(context.Background(), 5, func(e notify.Event) error { got = append(got, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if after != "5" {
		t.Fatalf("Last-Event-ID = %q, want 5", after)
	}
	// The closing frame has no ledger id: not an event.
	if len(got) != 2 || got[0].ID != 7 || got[0].ExchangeID != "ex_1" || got[0].Recipient != "B" || got[0].Source != "A" ||
		got[1].ID != 12 || got[1].Kind != "cancelled" {
		t.Fatalf("events = %+v", got)
	}
}

func TestEventFramesRaw(t *testing.T) {
	var after string
	srv := sseServer(t, sseBody, &after)
	c := &Client{BaseURL: srv.URL, AccessKey: "ak", SecretKey: "sk"}
	type frame struct {
		id         int64
		kind, data string
	}
	var got []frame
	err := c.EventFrames(context.Background(), 0, func(f EventFrame) error {
		got = append(got, frame{f.ID, string(f.Event), string(f.Data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if after != "" {
		t.Fatalf("Last-Event-ID = %q, want none", after)
	}
	if len(got) != 3 || got[0].id != 7 || got[0].kind != "notified" || got[1].id != 12 || got[1].kind != "cancelled" ||
		got[2].id != 0 || got[2].kind != "closing" || got[2].data != `{"reason":"the node is shutting down"}` {
		t.Fatalf("frames = %+v", got)
	}
	stop := fmt.Errorf("stop")
	n := 0
	if err := c.EventFrames(context.Background(), 0, func(EventFrame) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("fn's error: got %v after %d frames", err, n)
	}
}

func TestParseEventID(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "42": 42, "": 0, "4x": 0, "-1": 0, "9223372036854775807": 0, "123456789012345678": 123456789012345678} {
		if got := parseEventID([]byte(in)); got != want {
			t.Errorf("parseEventID(%q) = %d, want %d", in, got, want)
		}
	}
}
