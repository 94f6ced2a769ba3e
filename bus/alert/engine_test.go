package alert

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tuyenquang/lgsp/bus/store"
)

// blockingChannel holds every message until release is closed.
type blockingChannel struct{ release chan struct{} }

func (b blockingChannel) Name() string { return "blocked" }
func (b blockingChannel) Send(ctx context.Context, _ Message) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

// recordingChannel hands each message to got.
type recordingChannel struct{ got chan Message }

func (r recordingChannel) Name() string { return "recorder" }
func (r recordingChannel) Send(_ context.Context, m Message) error {
	r.got <- m
	return nil
}

// TestSlowChannelDelaysNoOther: a channel that hangs (an SMTP server that
// never answers) does not hold back the other channels: both messages of
// the round reach the recorder while the first is still stuck.
func TestSlowChannelDelaysNoOther(t *testing.T) {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	slow := blockingChannel{release: make(chan struct{})}
	rec := recordingChannel{got: make(chan Message, 10)}
	e := &Engine{Cfg: Config{Enabled: true, Interval: time.Second, Repeat: time.Hour, Rules: Rules{AuthFailures: 1, AuthWindow: time.Minute}},
		Store: st, Node: "n1", Log: log, Channels: []Channel{slow, rec}}
	e.AuthFailure("addr:192.0.2.1")
	e.AuthFailure("addr:192.0.2.2")
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := e.Check(context.Background()); err != nil {
			t.Error(err)
		}
	})
	deadline := time.After(10 * time.Second)
	for i := range 2 {
		select {
		case m := <-rec.got:
			if m.Rule != RuleAuthFailures || m.Kind != Firing {
				t.Fatalf("message %d: %+v", i, m)
			}
		case <-deadline:
			close(slow.release)
			t.Fatalf("the recorder got %d of 2 messages while the other channel hung", i)
		}
	}
	close(slow.release)
	wg.Wait()
}
