package main

import (
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/notify"
)

// jsonField must read what the node sends: notify.Event's JSON.
func TestJSONFieldReadsNodeEvents(t *testing.T) {
	e := notify.Event{ID: 9, ExchangeID: "ex_01J", Kind: "notified", At: time.Unix(0, 0).UTC(), Recipient: "H99.02", Source: "H99.01"}
	js := e.JSON()
	for name, want := range map[string]string{"exchange_id": "ex_01J", "recipient": "H99.02", "source": "H99.01", "kind": "notified", "actor": ""} {
		if got := string(jsonField(js, name)); got != want {
			t.Errorf("jsonField(%s) = %q, want %q", name, got, want)
		}
	}
	if got := jsonField([]byte(`{"recipient":"a\"b"}`), "recipient"); got != nil {
		t.Errorf("escaped value: got %q, want nil", got)
	}
}
