package service

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/store"
	"github.com/tuyenquang/lgsp/bus/vault"
)

// failingActivity is a store whose activity appends fail while fail is set.
type failingActivity struct {
	store.Store
	fail atomic.Bool
}

func (f *failingActivity) AppendActivity(ctx context.Context, es []store.ActivityEntry) error {
	if f.fail.Load() {
		return errors.New("the database refuses")
	}
	return f.Store.AppendActivity(ctx, es)
}

// TestActivityWriterCommitsBeforeTheAnswer: the entry is in the database
// when the answer's header is passed on; when it cannot be written, the
// handler's answer (201 and its body) is replaced by a coded
// system.unavailable refusal in both languages, and nothing of the
// handler's body leaves.
func TestActivityWriterCommitsBeforeTheAnswer(t *testing.T) {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	fs := &failingActivity{Store: st}
	l := activity.New(activity.Options{Store: fs, Vault: v, Node: "n1", CommitWait: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	serve := func(subject string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/admin/v1/systems", strings.NewReader(`{"code":"x"}`))
		w := httptest.NewRecorder()
		aw := NewActivityWriter(w, r, l, func(status int) activity.Entry {
			return activity.Entry{Kind: "admin.POST", Actor: "admin-api", Subject: subject, Outcome: Outcome(status)}
		})
		func() {
			defer aw.Finish()
			inLog, err := st.ListActivity(context.Background(), store.ActivityFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range inLog {
				if e.Subject == subject {
					t.Fatal("the entry was written before the handler answered")
				}
			}
			w.Header().Set("Location", "/admin/v1/systems/x")
			aw.WriteHeader(http.StatusCreated)
			// The header has been passed on: the entry must be there now.
			inLog, _ = st.ListActivity(context.Background(), store.ActivityFilter{Limit: 10})
			found := false
			for _, e := range inLog {
				found = found || (e.Subject == subject && e.Outcome == "ok")
			}
			if !found && !fs.fail.Load() {
				t.Fatal("the answer's header went out before its entry was written")
			}
			_, _ = aw.Write([]byte(`{"secret_key":"handler body"}`))
		}()
		return w
	}
	if w := serve("/ok"); w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), "handler body") {
		t.Fatalf("answer %d %s", w.Code, w.Body)
	}
	fs.fail.Store(true)
	w := serve("/refused")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("X-LGSP-Error-Code") != "system.unavailable" || w.Header().Get("Location") != "" {
		t.Fatalf("answer %d %v", w.Code, w.Header())
	}
	body := w.Body.String()
	if strings.Contains(body, "handler body") || !strings.Contains(body, "activity log") || !strings.Contains(body, "message_vi") {
		t.Fatalf("refusal body: %s", body)
	}
	// The entry stays buffered and is written once the database is back.
	fs.fail.Store(false)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	inLog, _ := st.ListActivity(context.Background(), store.ActivityFilter{Limit: 10})
	if len(inLog) != 2 {
		t.Fatalf("entries: %+v", inLog)
	}
}
