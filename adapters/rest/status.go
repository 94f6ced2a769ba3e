package rest

import (
	"mime"
	"net/http"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/service"
)

// mountStatus adds POST /v1/exchanges/{id}/status: a recipient sends an
// edXML status packet (application/xml) about a delivered document; it is
// recorded in the exchange's ledger and notified to the sender.
func (a *api) mountStatus() {
	a.h.Handle("POST /v1/exchanges/{id}/status", a.signed(a.reportStatus))
}

func (a *api) reportStatus(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/xml" && mt != "text/xml" {
		service.WriteProblem(w, r, bus.ErrBadRequest.New("Content-Type must be application/xml (an edXML status packet), got %q", r.Header.Get("Content-Type")))
		return
	}
	rep, err := a.ex.ReportStatus(r.Context(), principal(r.Context()).SystemCode, r.PathValue("id"), r.Body)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, rep)
}
