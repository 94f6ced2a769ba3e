package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/activity"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/service"
)

func init() {
	service.RegisterModule(service.Module{Name: "rest", Provision: provision})
}

// api serves the REST endpoints of one node.
type api struct {
	h   *service.Host
	st  Store
	ex  *exchange.Service
	lim int64
}

type principalKey struct{}

func principal(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

func provision(h *service.Host) error {
	a := &api{h: h, st: h.Store, ex: h.Exchange, lim: h.Config.Limits.MaxJSONBytes}
	h.Handle("POST /v1/connect", a.signed(a.connect))
	h.Handle("POST /v1/exchanges", a.signed(a.request))
	h.Handle("GET /v1/exchanges", a.signed(a.sent))
	h.Handle("GET /v1/exchanges/{id}", a.signed(a.status))
	h.Handle("PUT /v1/exchanges/{id}/content", a.signedStream(a.upload))
	h.Handle("HEAD /v1/exchanges/{id}/content", a.signed(a.head))
	h.Handle("GET /v1/exchanges/{id}/content", a.signed(a.download))
	h.Handle("POST /v1/exchanges/{id}/complete", a.signed(a.complete))
	h.Handle("POST /v1/exchanges/{id}/cancel", a.signed(a.cancel))
	h.Handle("POST /v1/exchanges/{id}/ready", a.signed(a.ready))
	h.Handle("POST /v1/exchanges/{id}/confirm", a.signed(a.confirm))
	h.Handle("GET /v1/inbox", a.signed(a.inbox))
	h.Handle("GET /v1/events", a.signed(a.sse))
	h.Handle("GET /v1/events/ws", a.signed(a.websocket))
	a.mountAuth()   // auth.go: sessions (A1–A6), verify, /token
	a.mountProxy()  // proxy.go: /svc/<name>/… (C2)
	a.mountStatus() // status.go: edXML status packets from recipients
	return nil
}

// signed verifies the request signature and the body hash; the handler sees
// a body that has already been checked (bounded by limits.max_json_bytes).
func (a *api) signed(next http.HandlerFunc) http.Handler {
	return a.verify(next, false)
}

// signedStream verifies the signature and hands the handler a body that is
// checked against X-LGSP-Content-SHA256 as it streams: its last Read fails
// if the hash differs, so nothing is committed.
func (a *api) signedStream(next http.HandlerFunc) http.Handler {
	return a.verify(next, true)
}

func (a *api) verify(next http.HandlerFunc, stream bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.h.Auth.Authenticate(r)
		if err != nil {
			service.WriteProblem(w, r, err)
			return
		}
		// A refused call of an authenticated system goes to the activity
		// log, so that its unit sees its errors (M6); accepted calls are
		// there through the ledger events they cause.
		rec := &callStatus{ResponseWriter: w}
		w = rec
		defer func() {
			if rec.status >= http.StatusBadRequest {
				out := rec.Header().Get("X-LGSP-Error-Code")
				if out == "" {
					out = service.Outcome(rec.status)
				}
				a.h.Activity.Record(r.Context(), activity.Entry{Kind: "api.refused", Actor: p.SystemCode, SystemCode: p.SystemCode, Subject: r.Method + " " + r.URL.Path, Outcome: out})
			}
		}()
		// Authenticated from the headers: only now may the request take a
		// slot of the main pool and have its body read.
		if err := service.Admit(r.Context()); err != nil {
			service.WriteProblem(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = service.WithLog(ctx, service.Log(ctx).WithField("system", p.SystemCode))
		r = r.WithContext(ctx)
		body := r.Body
		if p.BodySHA256 != "" { // a bearer-token request may come without a body hash
			body = auth.VerifyBody(r.Body, p.BodySHA256, nil)
		}
		if !stream {
			b, err := io.ReadAll(io.LimitReader(body, a.lim+1))
			if err != nil {
				service.WriteProblem(w, r, err)
				return
			}
			if int64(len(b)) > a.lim {
				service.WriteProblem(w, r, bus.ErrBodyTooLarge.New("JSON bodies are limited to %d bytes", a.lim))
				return
			}
			body = io.NopCloser(bytes.NewReader(b))
		}
		r.Body = body
		next(w, r)
	})
}

func (a *api) connect(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	s, err := a.ex.Connect(r.Context(), p.SystemCode, p.AccessKey, r.RemoteAddr)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, map[string]any{"session_id": s.SessionID, "system": s.System, "expires_at": s.ExpiresAt, "pending": exchange.InboxOf(s.Pending)})
}

func (a *api) request(w http.ResponseWriter, r *http.Request) {
	var req exchange.Request
	if err := service.DecodeJSON(r, a.lim, &req); err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	sp, err := a.ex.RequestExchange(r.Context(), principal(r.Context()).SystemCode, req)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/exchanges/"+sp.ExchangeID)
	service.WriteJSON(w, http.StatusCreated, sp)
}

func (a *api) sent(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	list, err := a.ex.Sent(r.Context(), principal(r.Context()).SystemCode, limit)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	out := []exchange.View{}
	for _, e := range list {
		out = append(out, exchange.ViewOf(e, nil))
	}
	service.WriteJSON(w, http.StatusOK, map[string]any{"exchanges": out})
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.ex.Status(r.Context(), principal(r.Context()).SystemCode, r.PathValue("id"))
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, exchange.ViewOf(st.Exchange, st.Ledger))
}

// HeaderUploadOffset carries the byte offset an upload part starts at.
const HeaderUploadOffset = "X-LGSP-Upload-Offset"

func (a *api) upload(w http.ResponseWriter, r *http.Request) {
	var off int64
	if v := r.Header.Get(HeaderUploadOffset); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			service.WriteProblem(w, r, bus.ErrBadRequest.New("%s must be a non-negative integer", HeaderUploadOffset))
			return
		}
		off = n
	}
	id := r.PathValue("id")
	got, err := a.ex.Upload(r.Context(), principal(r.Context()).SystemCode, id, off, r.Body)
	w.Header().Set(HeaderUploadOffset, strconv.FormatInt(got, 10))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = bus.ErrBodyTooLarge.New("body too large")
		}
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, map[string]any{"exchange_id": id, "received": got})
}

func (a *api) head(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	got, max, err := a.ex.UploadStatus(r.Context(), principal(r.Context()).SystemCode, id)
	if err != nil {
		w.Header().Set("X-LGSP-Error-Code", string(bus.CodeOf(err)))
		w.WriteHeader(bus.AsError(err).Def.Status)
		return
	}
	w.Header().Set(HeaderUploadOffset, strconv.FormatInt(got, 10))
	w.Header().Set("X-LGSP-Max-Bytes", strconv.FormatInt(max, 10))
	w.WriteHeader(http.StatusOK)
}

func (a *api) complete(w http.ResponseWriter, r *http.Request) {
	var c exchange.CompleteRequest
	if r.ContentLength != 0 {
		if err := service.DecodeJSON(r, a.lim, &c); err != nil {
			service.WriteProblem(w, r, err)
			return
		}
	}
	ex, err := a.ex.Complete(r.Context(), principal(r.Context()).SystemCode, r.PathValue("id"), c)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, exchange.ViewOf(ex, nil))
}

func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	ex, err := a.ex.Cancel(r.Context(), principal(r.Context()).SystemCode, r.PathValue("id"))
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, exchange.ViewOf(ex, nil))
}

func (a *api) inbox(w http.ResponseWriter, r *http.Request) {
	items, err := a.ex.Inbox(r.Context(), principal(r.Context()).SystemCode)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, map[string]any{"items": exchange.InboxOf(items)})
}

func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	d, err := a.ex.Ready(r.Context(), principal(r.Context()).SystemCode, r.PathValue("id"))
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, d)
}

func (a *api) confirm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Outcome string `json:"outcome"`
		Note    string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := service.DecodeJSON(r, a.lim, &in); err != nil {
			service.WriteProblem(w, r, err)
			return
		}
	}
	ex, err := a.ex.Confirm(r.Context(), principal(r.Context()).SystemCode, r.PathValue("id"), in.Outcome, in.Note)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, exchange.ViewOf(ex, nil))
}

// parseRange reads a single "bytes=N-" or "bytes=N-M" range.
func parseRange(h string) (off, length int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found || a == "" {
		return 0, 0, false
	}
	off, err := strconv.ParseInt(a, 10, 64)
	if err != nil || off < 0 {
		return 0, 0, false
	}
	if b == "" {
		return off, -1, true
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < off {
		return 0, 0, false
	}
	return off, end - off + 1, true
}

func (a *api) download(w http.ResponseWriter, r *http.Request) {
	off, length := int64(0), int64(-1)
	ranged := false
	if h := r.Header.Get("Range"); h != "" {
		var ok bool
		if off, length, ok = parseRange(h); !ok {
			service.WriteProblem(w, r, bus.ErrRange.New("only one range of the form bytes=N- or bytes=N-M is supported"))
			return
		}
		ranged = true
	}
	f, err := a.ex.Fetch(r.Context(), principal(r.Context()).SystemCode, r.PathValue("id"), off, length)
	if err != nil {
		service.WriteProblem(w, r, err)
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", f.MediaType)
	hd.Set("Content-Length", strconv.FormatInt(f.Length, 10))
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("X-LGSP-Content-SHA256", f.SHA256)
	hd.Set("Cache-Control", "no-store")
	status := http.StatusOK
	if ranged {
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", f.Offset, f.Offset+f.Length-1, f.Size))
	}
	w.WriteHeader(status)
	n, err := io.Copy(w, f.Body)
	if err != nil || n != f.Length {
		service.Log(r.Context()).WithError(err).WithField("sent", n).Warn("download interrupted")
	}
}
