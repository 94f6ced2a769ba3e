package service

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tuyenquang/lgsp/bus/auth"
)

// provisionPlatformKeys completes migration 0005 (public keys registered
// before it move out of the sealed-secret column) and mounts the published
// platform keys: GET /v1/platform/keys, without authentication, because a
// receiver needs the key before it can verify anything from the platform.
func (s *Service) provisionPlatformKeys(ctx context.Context) error {
	n, err := auth.UpgradeKeys(ctx, s.store, s.vault)
	if err != nil {
		return fmt.Errorf("moving public keys out of the sealed-secret column (migration 0005): %w", err)
	}
	if n > 0 {
		s.log.WithField("count", n).Info("moved public keys registered before migration 0005 to their own column")
	}
	s.platform = &auth.PlatformKeys{Store: s.store, Vault: s.vault}
	s.mux.HandleFunc("GET /v1/platform/keys", s.platformKeys)
	return nil
}

// platformKeys answers the public keys the platform signs with (created on
// first use, once for all nodes).
func (s *Service) platformKeys(w http.ResponseWriter, r *http.Request) {
	k, err := s.platform.Webhook(r.Context())
	if err != nil {
		WriteProblem(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"keys": []auth.PlatformPublicKey{k}})
}

// PlatformKeys returns the platform's signing keys.
func (s *Service) PlatformKeys() *auth.PlatformKeys { return s.platform }
