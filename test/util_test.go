package test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/auth"
)

func cryptoRead(b []byte) (int, error) { return rand.Read(b) }

func httpGetJSON(url string) map[string]any {
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func signWith(req *http.Request, c *rest.Client, bodySHA string) error {
	return auth.Sign(req, c.AccessKey, c.SecretKey, bodySHA, time.Now(), bus.RandomToken(16))
}
