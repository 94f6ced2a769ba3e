package test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
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
