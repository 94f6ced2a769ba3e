package service

import (
	"net/http"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
)

// ActivityWriter commits a request's activity entry (M5) before the first
// byte of its answer leaves: the entry is built from the answer's status
// when the handler writes its header (or its first byte, or returns
// without writing), and written to the database through
// activity.Log.Commit before the header is passed on. A client that got an
// answer therefore has its action in the log, even if the node is killed
// the next instant (issue 11).
//
// When the entry cannot be written in time the answer is replaced by a
// system.unavailable refusal that says so: what the handler did is not
// acknowledged, and the entry stays buffered to be written later.
type ActivityWriter struct {
	http.ResponseWriter
	r     *http.Request
	log   *activity.Log
	entry func(status int) activity.Entry

	done   bool // the entry was committed or failed
	failed bool // the refusal replaced the answer
	Status int  // the status of the answer (0 before it is written)
}

// NewActivityWriter wraps w; entry builds the entry from the answer's
// status. Call Finish when the handler returns. With log nil (the activity
// log is off) it only passes through.
func NewActivityWriter(w http.ResponseWriter, r *http.Request, log *activity.Log, entry func(status int) activity.Entry) *ActivityWriter {
	return &ActivityWriter{ResponseWriter: w, r: r, log: log, entry: entry}
}

// commit writes the entry once; false when the answer was replaced.
func (a *ActivityWriter) commit(status int) bool {
	if a.done {
		return !a.failed
	}
	a.done, a.Status = true, status
	if a.log == nil {
		return true
	}
	// The caller may go away meanwhile: the entry is still written, only
	// the wait ends with the request.
	if err := a.log.Commit(a.r.Context(), a.entry(status)); err != nil {
		a.failed = true
		if a.r.Context().Err() != nil {
			return false // nobody is listening for an answer
		}
		Log(a.r.Context()).WithError(err).Error("activity log: an entry could not be written before the answer")
		h := a.ResponseWriter.Header()
		for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Disposition", "Location", "ETag", "Last-Modified"} {
			h.Del(k)
		}
		a.Status = http.StatusServiceUnavailable
		WriteProblem(a.ResponseWriter, a.r, bus.ErrUnavailable.New("the activity log could not record this request in time (M5): it is not acknowledged; check the outcome before repeating it"))
		return false
	}
	return true
}

// WriteHeader commits the entry, then passes the header on (1xx
// informational headers pass at once).
func (a *ActivityWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		a.ResponseWriter.WriteHeader(code)
		return
	}
	if a.commit(code) {
		a.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the entry (status 200 when no header was written) before
// the first byte; after a refusal replaced the answer, it discards.
func (a *ActivityWriter) Write(b []byte) (int, error) {
	if !a.commit(http.StatusOK) {
		return len(b), nil
	}
	return a.ResponseWriter.Write(b)
}

// Flush commits the entry before a flush sends the header.
func (a *ActivityWriter) Flush() {
	if !a.commit(http.StatusOK) {
		return
	}
	if fl, ok := a.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap keeps http.ResponseController working.
func (a *ActivityWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// Finish commits the entry of a handler that returned without writing
// (net/http then answers 200 with an empty body).
func (a *ActivityWriter) Finish() {
	if !a.done {
		a.commit(http.StatusOK)
	}
}
