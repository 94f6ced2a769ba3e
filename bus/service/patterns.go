package service

import (
	"net/http"
	"sync"
)

// patternMux is the node's ServeMux; it remembers the patterns mounted on
// it so that a test can hold the OpenAPI document to the routes that exist.
type patternMux struct {
	*http.ServeMux
	mu       sync.Mutex
	patterns []string
}

func newPatternMux() *patternMux { return &patternMux{ServeMux: http.NewServeMux()} }

func (m *patternMux) Handle(pattern string, h http.Handler) {
	m.record(pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m *patternMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.record(pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

func (m *patternMux) record(pattern string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.patterns = append(m.patterns, pattern)
}

// Patterns returns the patterns mounted on the node's mux ("GET /healthz",
// "/svc/{name}/{path...}", …) in the order they were mounted.
func (s *Service) Patterns() []string {
	s.mux.mu.Lock()
	defer s.mux.mu.Unlock()
	return append([]string(nil), s.mux.patterns...)
}
