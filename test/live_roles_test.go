package test

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tuyenquang/lgsp/bus/notify"
)

// TestLiveEventsPerRole checks the table "Who receives which live event"
// of docs/exchange.md: the sender gets every event of its exchange that
// carries the source (not requested), a recipient gets the events that name
// it (planned included), and nobody gets another recipient's events.
func TestLiveEventsPerRole(t *testing.T) {
	n := startNode(t, "sqlite")
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng")
	c := n.system(t, "000.00.02.H60", "Sở Tài chính")
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	got := map[string][]notify.Event{}
	for code, cl := range map[string]interface {
		Events(context.Context, int64, func(notify.Event) error) error
	}{"a": a, "b": b, "c": c} {
		go cl.Events(sctx, 0, func(e notify.Event) error {
			mu.Lock()
			got[code] = append(got[code], e)
			mu.Unlock()
			return nil
		})
	}
	eventually(t, "three subscribers", func() (bool, error) { return hubCount(n) == 3, nil })

	id := sendSmall(t, n, "000.00.00.H60", "000.00.01.H60", "000.00.02.H60")
	// Ready succeeds once the dispatcher has notified B (the delivery is due).
	eventually(t, "B notified and ready", func() (bool, error) {
		_, err := b.Ready(ctx, id)
		return err == nil, err
	})
	var buf bytes.Buffer
	if _, err := b.Download(ctx, id, 0, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Confirm(ctx, id, "received", "đã nhận"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Confirm(ctx, id, "rejected", "không thuộc thẩm quyền"); err != nil {
		t.Fatal(err)
	}
	kinds := func(who string) string {
		mu.Lock()
		defer mu.Unlock()
		var ks []string
		for _, e := range got[who] {
			if e.ExchangeID != id {
				t.Errorf("%s got an event of another exchange: %+v", who, e)
			}
			k := e.Kind
			if e.Recipient != "" {
				k += "@" + e.Recipient[len(e.Recipient)-5:]
			}
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, " ")
	}
	want := map[string]string{
		"a": "accepted completed confirmed@1.H60 downloaded@1.H60 notified@1.H60 notified@2.H60 planned@1.H60 planned@2.H60 purged ready@1.H60 rejected@2.H60 uploaded",
		"b": "confirmed@1.H60 downloaded@1.H60 notified@1.H60 planned@1.H60 ready@1.H60",
		"c": "notified@2.H60 planned@2.H60 rejected@2.H60",
	}
	eventually(t, "every live event delivered", func() (bool, error) {
		return kinds("a") == want["a"] && kinds("b") == want["b"] && kinds("c") == want["c"], nil
	})
}
