package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// system is a registered system and the key issued to it for this run.
type system struct {
	Code      string
	AccessKey string
	SecretKey string
}

// admin calls the admin API with the bearer token.
type admin struct {
	base  string
	token string
	http  *http.Client
}

func newAdmin(base, token string) *admin {
	return &admin{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}
}

// systemCode is the identifier code of the i-th load system (1-based), in
// the range the shipped van-ban route accepts as sources (000.00.*.H60).
func systemCode(i int) string { return fmt.Sprintf("000.00.%02d.H60", i) }

// provision registers n systems (an existing one is fine), issues each a
// new key and grants them exchanges with each other.
func provision(ctx context.Context, a *admin, n int) ([]system, error) {
	out := make([]system, 0, n)
	for i := 1; i <= n; i++ {
		code := systemCode(i)
		in := map[string]string{"code": code, "name": fmt.Sprintf("Hệ thống thử tải số %d", i), "unit": "Sở Thông tin và Truyền thông", "contact": "thu-tai@example.gov.vn"}
		status, body, err := a.post(ctx, "/admin/v1/systems", in)
		if err != nil {
			return nil, err
		}
		if status != http.StatusCreated && !(status == http.StatusConflict && strings.Contains(body, "registry.system_exists")) {
			return nil, fmt.Errorf("registering %s: HTTP %d: %s", code, status, body)
		}
		status, body, err = a.post(ctx, "/admin/v1/systems/"+code+"/keys", nil)
		if err != nil {
			return nil, err
		}
		var k struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		}
		if status != http.StatusCreated || json.Unmarshal([]byte(body), &k) != nil || k.SecretKey == "" {
			return nil, fmt.Errorf("issuing a key to %s: HTTP %d: %s", code, status, body)
		}
		out = append(out, system{Code: code, AccessKey: k.AccessKey, SecretKey: k.SecretKey})
	}
	// Exchanges are deny by default: let the load systems send edoc and
	// edxml to each other (adding the same grant again is a no-op).
	for _, dt := range []string{"edoc", "edxml"} {
		g := map[string]string{"kind": "exchange", "source": "000.00.*.H60", "destination": "000.00.*.H60", "data_type": dt}
		status, body, err := a.post(ctx, "/admin/v1/grants", g)
		if err != nil {
			return nil, err
		}
		if status != http.StatusCreated {
			return nil, fmt.Errorf("granting %s exchanges between load systems: HTTP %d: %s", dt, status, body)
		}
	}
	return out, nil
}

func (a *admin) post(ctx context.Context, path string, in any) (int, string, error) {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, "", err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("admin API %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}

// bigRoute is the shipped van-ban route with the limits raised to 200 MiB,
// for the big mode (the shipped validate step stops at 50 MiB).
const bigRoute = `# Written by "go run ./test/load -routes-out DIR": the van-ban route with a
# 200 MiB limit, for the load generator's big mode only. Not for production.
routes:
  - name: thu-tai-van-ban-lon
    description: Tuyến thử tải — văn bản tới 200 MiB
    match:
      sources: ["000.00.00.H60", "000.00.*.H60"]
      data_types: ["edoc", "edxml"]
    recipients: ["*.H60"]
    max_bytes: 209715200
    steps:
      - validate:
          media_types: ["application/xml", "application/json", "application/pdf", "application/zip"]
          max_bytes: 209715200
          min_bytes: 1
          require_sha256: true
      - label: {key: "phong-ban", value: "van-thu"}
    delivery:
      mode: immediate
      expiry: 72h
`

// writeRoutes writes bigRoute into dir (created if needed) and returns the
// file's path.
func writeRoutes(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "thu-tai.yaml")
	return path, os.WriteFile(path, []byte(bigRoute), 0o644)
}
