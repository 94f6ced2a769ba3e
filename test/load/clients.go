package main

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/adapters/rest"
)

// requestTimeout bounds every request but the SSE streams and the big
// transfers (R3: no answer may take longer than 30 s).
const requestTimeout = 30 * time.Second

// counting is an http.RoundTripper that counts the requests it sends.
type counting struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// sharedTransport is the keep-alive transport all workers of a cycle run
// share: up to idle idle connections are kept to the node.
func sharedTransport(idle int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no overall limit
	t.MaxIdleConnsPerHost = idle
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// singleConnTransport is a transport that opens at most one connection.
func singleConnTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost = 1
	t.MaxIdleConnsPerHost = 1
	t.IdleConnTimeout = 5 * time.Minute
	return t
}

// apiClient returns a REST client of sys over rt.
func apiClient(base string, sys system, rt http.RoundTripper, timeout time.Duration) *rest.Client {
	return &rest.Client{BaseURL: base, AccessKey: sys.AccessKey, SecretKey: sys.SecretKey, HTTP: &http.Client{Transport: rt, Timeout: timeout}}
}
