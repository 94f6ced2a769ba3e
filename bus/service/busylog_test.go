package service

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/tuyenquang/lgsp/bus"
)

// TestBusyRefusalsLoggedInSummary: a burst of system.busy refusals gives
// one warning line that counts them, not an error line each (issue #13),
// and each refusal is still answered 503 with Retry-After.
func TestBusyRefusalsLoggedInSummary(t *testing.T) {
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	busyLog.next.Store(0)
	busyLog.n.Store(0)
	r := httptest.NewRequest(http.MethodGet, "/v1/inbox", nil)
	r = r.WithContext(WithLog(r.Context(), logrus.NewEntry(log)))
	for range 1000 {
		w := httptest.NewRecorder()
		WriteProblem(w, r, &bus.Error{Def: bus.ErrBusy, Detail: "too many requests in progress", RetryAfter: 1})
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("answer %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
	}
	if n := len(hook.AllEntries()); n != 1 {
		t.Fatalf("%d log lines for 1000 busy refusals, want 1", n)
	}
	if e := hook.LastEntry(); e.Level != logrus.WarnLevel || e.Data["refused"] != int64(1) {
		t.Fatalf("first line %v %v", e.Level, e.Data)
	}
	// The next line, once due, carries the refusals counted meanwhile.
	busyLog.next.Store(0)
	w := httptest.NewRecorder()
	WriteProblem(w, r, &bus.Error{Def: bus.ErrBusy, Detail: "too many requests in progress", RetryAfter: 1})
	if e := hook.LastEntry(); len(hook.AllEntries()) != 2 || e.Data["refused"] != int64(1000) {
		t.Fatalf("second line %v (%d lines)", e.Data, len(hook.AllEntries()))
	}
	// Other 5xx are still logged one by one at error level.
	WriteProblem(httptest.NewRecorder(), r, bus.ErrInternal.New("boom"))
	if e := hook.LastEntry(); len(hook.AllEntries()) != 3 || e.Level != logrus.ErrorLevel {
		t.Fatalf("internal error logged as %v (%d lines)", e.Level, len(hook.AllEntries()))
	}
}
