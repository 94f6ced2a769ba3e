package service

import (
	"net/http"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
	"github.com/tuyenquang/lgsp/bus/store"
)

// ClientCertJSON is one client-certificate binding of a system (mutual
// TLS) as the admin API shows it.
type ClientCertJSON struct {
	ID          string    `json:"id"`
	SHA256      string    `json:"sha256,omitempty"`
	CA          string    `json:"ca,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Description string    `json:"description,omitempty"`
	AddedAt     time.Time `json:"added_at,omitzero"`
}

// ClientCertInput is the body of POST …/client-certs: exactly one of
// Certificate (PEM: bind that certificate by fingerprint), SHA256, or CA
// with Subject.
type ClientCertInput struct {
	Certificate string `json:"certificate,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	CA          string `json:"ca,omitempty"`
	Subject     string `json:"subject,omitempty"`
	Description string `json:"description,omitempty"`
}

// Binding turns the input into a binding, refusing ambiguous input.
func (in ClientCertInput) Binding() (store.ClientCert, error) {
	n := 0
	for _, s := range []string{in.Certificate, in.SHA256, in.CA} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return store.ClientCert{}, bus.ErrBadRequest.New("give exactly one of certificate, sha256, or ca with subject")
	case in.CA != "":
		return auth.NewCABinding(in.CA, in.Subject, in.Description)
	case in.Subject != "":
		return store.ClientCert{}, bus.ErrBadRequest.New("subject goes with ca")
	case in.Certificate != "":
		return auth.NewFingerprintBinding(in.Certificate, in.Description)
	default:
		return auth.NewFingerprintBinding(in.SHA256, in.Description)
	}
}

// ClientCertToJSON converts a stored binding.
func ClientCertToJSON(c store.ClientCert) ClientCertJSON {
	return ClientCertJSON{ID: c.ID, SHA256: c.SHA256, CA: c.CA, Subject: c.Subject, Description: c.Description, AddedAt: c.AddedAt}
}

// mountClientCerts adds the admin API of client-certificate bindings
// (docs/auth.md, "Mutual TLS"); every change is in the key audit record.
func (s *Service) mountClientCerts() {
	m := s.mux
	m.HandleFunc("GET /admin/v1/systems/{code}/client-certs", s.admin(func(w http.ResponseWriter, r *http.Request) {
		sys, err := s.registry.Get(r.Context(), r.PathValue("code"))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		out := []ClientCertJSON{}
		for _, c := range sys.ClientCerts {
			out = append(out, ClientCertToJSON(c))
		}
		WriteJSON(w, http.StatusOK, map[string]any{"client_certs": out})
	}))
	m.HandleFunc("POST /admin/v1/systems/{code}/client-certs", s.admin(func(w http.ResponseWriter, r *http.Request) {
		var in ClientCertInput
		if err := DecodeJSON(r, s.cfg.Limits.MaxJSONBytes, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		b, err := in.Binding()
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		b, err = s.registry.BindClientCert(r.Context(), r.PathValue("code"), b)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusCreated, map[string]any{"client_cert": ClientCertToJSON(b)})
	}))
	m.HandleFunc("DELETE /admin/v1/systems/{code}/client-certs/{id}", s.admin(func(w http.ResponseWriter, r *http.Request) {
		if err := s.registry.UnbindClientCert(r.Context(), r.PathValue("code"), r.PathValue("id")); err != nil {
			WriteProblem(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "removed"})
	}))
}
