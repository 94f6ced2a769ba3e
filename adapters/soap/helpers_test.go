package soap_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

var servers sync.Map // URL → *httptest.Server

// newHTTPServer starts h on port 0 and returns its URL.
func newHTTPServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	servers.Store(s.URL, s)
	return s.URL
}

// closeServer stops the server at url now.
func closeServer(url string) {
	if s, ok := servers.Load(url); ok {
		s.(*httptest.Server).Close()
	}
}

// xmlUnmarshal is xml.Unmarshal (kept here so tests read short).
func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }
