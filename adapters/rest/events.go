package rest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/notify"
	"github.com/tuyenquang/lgsp/bus/service"
)

// replay returns the ledger events after `after` that concern code, so a
// subscriber that reconnects with Last-Event-ID misses nothing (bounded to
// the last 1000 events).
func (a *api) replay(ctx context.Context, code string, after int64) ([]notify.Event, error) {
	evs, err := a.st.EventsAfter(ctx, after, 1000)
	if err != nil {
		return nil, err
	}
	var out []notify.Event
	for _, e := range evs {
		if rc, src := notify.Audience(e); rc == code || src == code {
			out = append(out, notify.FromStore(e))
		}
	}
	return out, nil
}

func lastEventID(r *http.Request) int64 {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// sse streams notifications as Server-Sent Events: "event: <kind>",
// "id: <ledger id>", "data: <json>"; a comment line every 20 s keeps
// proxies from closing the stream.
func (a *api) sse(w http.ResponseWriter, r *http.Request) {
	code := principal(r.Context()).SystemCode
	fl, ok := w.(http.Flusher)
	if !ok {
		service.WriteProblem(w, r, bus.ErrInternal.New("streaming unsupported"))
		return
	}
	sub, ok := a.h.Hub.Subscribe(code)
	if !ok {
		service.WriteProblem(w, r, &bus.Error{Def: bus.ErrBusy, Detail: "too many live subscribers", RetryAfter: 5})
		return
	}
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(e *notify.Event) error {
		_, err := w.Write(e.SSE())
		return err
	}
	fmt.Fprintf(w, ": lgsp events for %s\n\n", code)
	if after := lastEventID(r); after > 0 {
		evs, err := a.replay(r.Context(), code, after)
		if err != nil {
			return
		}
		for i := range evs {
			if write(&evs[i]) != nil {
				return
			}
		}
	}
	fl.Flush()
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.h.Stopping():
			fmt.Fprintf(w, "event: closing\ndata: {\"reason\":\"the node is shutting down; reconnect with Last-Event-ID\"}\n\n")
			fl.Flush()
			return
		case <-sub.Dropped:
			fmt.Fprintf(w, "event: dropped\ndata: {\"reason\":\"slow consumer; reconnect with Last-Event-ID\"}\n\n")
			fl.Flush()
			return
		case e := <-sub.C:
			// The frame was encoded once for every stream (notify.Event.SSE);
			// events already waiting go out with it, in one flush.
			if write(e) != nil {
				return
			}
			for more := true; more; {
				select {
				case e := <-sub.C:
					if write(e) != nil {
						return
					}
				default:
					more = false
				}
			}
			fl.Flush()
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// websocket streams the same notifications as JSON text messages.
func (a *api) websocket(w http.ResponseWriter, r *http.Request) {
	code := principal(r.Context()).SystemCode
	sub, ok := a.h.Hub.Subscribe(code)
	if !ok {
		service.WriteProblem(w, r, &bus.Error{Def: bus.ErrBusy, Detail: "too many live subscribers", RetryAfter: 5})
		return
	}
	defer sub.Close()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	send := func(e *notify.Event) error {
		b := e.JSON() // encoded once for every stream
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, b)
	}
	if after := lastEventID(r); after > 0 {
		evs, err := a.replay(ctx, code, after)
		if err != nil {
			return
		}
		for i := range evs {
			if send(&evs[i]) != nil {
				return
			}
		}
	}
	ping := time.NewTicker(20 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return
		case <-a.h.Stopping():
			c.Close(websocket.StatusGoingAway, "the node is shutting down; reconnect with ?after=<last id>")
			return
		case <-sub.Dropped:
			c.Close(websocket.StatusTryAgainLater, "slow consumer; reconnect with ?after=<last id>")
			return
		case e := <-sub.C:
			if send(e) != nil {
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}
