package rest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// refusingServer answers 503 with Retry-After ra to the first refusals
// requests (all of them when refusals < 0), then 200 with an empty JSON
// object, and records when each request arrived and how many body bytes
// it carried.
type refusingServer struct {
	*httptest.Server
	mu       sync.Mutex
	arrivals []time.Time
	bodies   []int
}

func newRefusingServer(t *testing.T, ra string, refusals int) *refusingServer {
	t.Helper()
	s := &refusingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.arrivals = append(s.arrivals, time.Now())
		s.bodies = append(s.bodies, int(n))
		i := len(s.arrivals)
		s.mu.Unlock()
		if refusals < 0 || i <= refusals {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("X-LGSP-Error-Code", "system.unavailable")
			w.Header().Set("Retry-After", ra)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"code":"system.unavailable","message_en":"unavailable","message_vi":"tạm thời không phục vụ"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *refusingServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

func (s *refusingServer) client(maxRetries int) *Client {
	return &Client{BaseURL: s.URL, AccessKey: "AKTESTTESTTESTTESTTE", SecretKey: "secret", MaxRetries: maxRetries}
}

func wantRefusal(t *testing.T, err error) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusServiceUnavailable || ae.Code != "system.unavailable" || ae.RetryAfter == "" {
		t.Fatalf("got %v, want the 503 system.unavailable refusal with its Retry-After", err)
	}
}

// A 503 with Retry-After 1 is retried after 1 s plus at most half of it
// again (the jitter), and the retry's answer is returned.
func TestClientRetryHonoursRetryAfter(t *testing.T) {
	s := newRefusingServer(t, "1", 1)
	if _, err := s.client(0).Status(context.Background(), "ex_a"); err != nil {
		t.Fatalf("after one refusal the retry should succeed: %v", err)
	}
	if s.count() != 2 {
		t.Fatalf("%d requests, want 2 (one refusal, one retry)", s.count())
	}
	gap := s.arrivals[1].Sub(s.arrivals[0])
	if gap < time.Second || gap > 1500*time.Millisecond+250*time.Millisecond {
		t.Fatalf("retry came %s after the refusal, want between 1 s and 1.5 s (Retry-After 1 plus jitter)", gap)
	}
}

// MaxRetries bounds the retries (default 3); negative means never; a
// Retry-After above MaxRetryWait ends the retries at once.
func TestClientRetryLimits(t *testing.T) {
	for _, c := range []struct {
		name       string
		ra         string
		maxRetries int
		maxWait    time.Duration
		want       int
	}{
		{"two retries", "0", 2, 0, 3},
		{"default three", "0", 0, 0, 4},
		{"never", "0", -1, 0, 1},
		{"wait over the cap", "120", 3, 0, 1},
		{"wait over a set cap", "2", 3, time.Second, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newRefusingServer(t, c.ra, -1)
			cl := s.client(c.maxRetries)
			cl.MaxRetryWait = c.maxWait
			_, err := cl.Status(context.Background(), "ex_a")
			wantRefusal(t, err)
			if s.count() != c.want {
				t.Fatalf("%d requests, want %d", s.count(), c.want)
			}
		})
	}
}

// roundTripNotify signals each answer the client received.
type roundTripNotify struct {
	rt http.RoundTripper
	ch chan struct{}
}

func (r roundTripNotify) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	r.ch <- struct{}{}
	return resp, err
}

// A cancelled context ends the wait for a retry with the refusal.
func TestClientRetryStopsOnCancel(t *testing.T) {
	s := newRefusingServer(t, "30", -1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	answered := make(chan struct{}, 4)
	cl := s.client(3)
	cl.HTTP = &http.Client{Transport: roundTripNotify{http.DefaultTransport, answered}}
	go func() { _, err := cl.Status(ctx, "ex_a"); done <- err }()
	select {
	case <-answered: // the refusal is in: the client now waits 30 s
	case err := <-done:
		t.Fatalf("returned before any request: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		wantRefusal(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the client still waits for its retry after the context was cancelled")
	}
	if s.count() != 1 {
		t.Fatalf("%d requests, want 1", s.count())
	}
}

// A streamed upload is never sent again (its body is consumed): the
// refusal is returned and the caller resumes from the offset.
func TestClientUploadNotResent(t *testing.T) {
	s := newRefusingServer(t, "0", 1)
	body := bytes.Repeat([]byte("x"), 64<<10)
	sum := sha256.Sum256(body)
	_, err := s.client(3).Upload(context.Background(), "ex_a", 0, bytes.NewReader(body), int64(len(body)), hex.EncodeToString(sum[:]))
	wantRefusal(t, err)
	if s.count() != 1 || s.bodies[0] != len(body) {
		t.Fatalf("%d upload requests (bodies %v), want exactly one carrying %d bytes", s.count(), s.bodies, len(body))
	}
}

// RetryJitter waits d plus 0–50 % of d, at least a 0–500 ms spread.
func TestRetryJitterBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 200 * time.Millisecond, time.Second, 30 * time.Second} {
		span := max(d/2, 500*time.Millisecond)
		lo, hi := d+span, d
		for range 2000 {
			w := RetryJitter(d)
			if w < d || w >= d+span {
				t.Fatalf("RetryJitter(%s) = %s, want in [%s, %s)", d, w, d, d+span)
			}
			lo, hi = min(lo, w), max(hi, w)
		}
		// The waits spread over the span, not one fixed value.
		if hi-lo < span/2 {
			t.Fatalf("RetryJitter(%s) spread only %s..%s over 2000 draws", d, lo, hi)
		}
	}
}
