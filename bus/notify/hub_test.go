package notify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus/store"
)

// TestPublishEncodesOnce: a published event carries its JSON and its SSE
// frame, the same bytes for every subscriber, equal to what an event built
// without Publish (a replay) encodes to.
func TestPublishEncodesOnce(t *testing.T) {
	h := NewHub(4, 10, logrus.New())
	a, _ := h.Subscribe("000.00.02.H60")
	b, _ := h.Subscribe("000.00.02.H60")
	src, _ := h.Subscribe("000.00.01.H60")
	defer a.Close()
	defer b.Close()
	defer src.Close()
	se := store.Event{ID: 42, ExchangeID: "ex-1", Kind: "notified", At: time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC),
		Actor: "bus", Recipient: "000.00.02.H60", Detail: `{"source":"000.00.01.H60"}`}
	h.Publish(se)
	ea, eb, es := <-a.C, <-b.C, <-src.C
	if ea != eb || ea != es {
		t.Fatal("subscribers got different events")
	}
	replay := FromStore(se)
	want, _ := json.Marshal(replay)
	if got := ea.JSON(); string(got) != string(want) || string(replay.JSON()) != string(want) {
		t.Fatalf("JSON %s, want %s", got, want)
	}
	frame := "id: 42\nevent: notified\ndata: " + string(want) + "\n\n"
	if got := ea.SSE(); string(got) != frame || string(replay.SSE()) != frame {
		t.Fatalf("SSE frame %q, want %q", got, frame)
	}
	var back Event
	if err := json.Unmarshal(ea.JSON(), &back); err != nil || back.ID != 42 || back.Source != "000.00.01.H60" || back.Recipient != "000.00.02.H60" {
		t.Fatalf("decoded %+v, %v", back, err)
	}
}
