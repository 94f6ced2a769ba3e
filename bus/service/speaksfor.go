package service

import (
	"net/http"
	"time"

	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
)

// OrganJSON is one organ a system may speak for, as the admin API shows it.
type OrganJSON struct {
	System    string    `json:"system"`
	Organ     string    `json:"organ"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// OrganToJSON converts a stored row.
func OrganToJSON(o store.SystemOrgan) OrganJSON {
	return OrganJSON{System: o.System, Organ: o.Organ, CreatedAt: o.CreatedAt, CreatedBy: o.CreatedBy}
}

// SpeaksFor returns the organs systems may speak for in packets.
func (s *Service) SpeaksFor() *auth.SpeaksFor { return s.speaks }

// mountSpeaksFor adds the admin API of the organs a system may name as the
// sender of its packets besides its own code (deny by default; every change
// is in the key audit record, GET … keys history).
func (s *Service) mountSpeaksFor() {
	m := s.mux
	list := func(w http.ResponseWriter, r *http.Request, system string) {
		got, err := s.speaks.List(r.Context(), system)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		out := []OrganJSON{}
		for _, o := range got {
			out = append(out, OrganToJSON(o))
		}
		WriteJSON(w, http.StatusOK, map[string]any{"speaks_for": out})
	}
	m.HandleFunc("GET /admin/v1/speaks-for", s.admin(func(w http.ResponseWriter, r *http.Request) {
		list(w, r, "")
	}))
	m.HandleFunc("GET /admin/v1/systems/{code}/speaks-for", s.admin(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.registry.Get(r.Context(), r.PathValue("code")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		list(w, r, r.PathValue("code"))
	}))
	m.HandleFunc("POST /admin/v1/systems/{code}/speaks-for", s.admin(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Organ string `json:"organ"`
		}
		if err := DecodeJSON(r, s.cfg.Limits.MaxJSONBytes, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		o, err := s.speaks.Add(r.Context(), r.PathValue("code"), in.Organ)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusCreated, map[string]any{"speaks_for": OrganToJSON(o)})
	}))
	m.HandleFunc("DELETE /admin/v1/systems/{code}/speaks-for/{organ}", s.admin(func(w http.ResponseWriter, r *http.Request) {
		if err := s.speaks.Remove(r.Context(), r.PathValue("code"), r.PathValue("organ")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "removed"})
	}))
}
