package ngspsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Server is the simulated gateway.
type Server struct {
	mu        sync.Mutex
	key, sec  string
	ExpiresIn int64 // seconds in token answers (default 3600)
	tokens    map[string]time.Time
	issued    int
	calls     int
	refused   int                 // protected calls refused for want of a valid token
	last      http.Header         // headers of the last protected call
	danhmuc   http.Handler        // the legacy SOAP service at DanhMucPath
	received  map[string][][]byte // ReceivePath: bodies by Idempotency-Key
	failRecv  int                 // ReceivePath answers 503 this many more times
}

// ReceivePath is a protected service that receives documents (POST), as a
// national system published on NGSP would: the target of route deliveries.
const ReceivePath = "/vbdt/1.0/receive"

// Received returns the bodies ReceivePath accepted, by Idempotency-Key.
func (s *Server) Received() map[string][][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][][]byte{}
	for k, v := range s.received {
		out[k] = append([][]byte(nil), v...)
	}
	return out
}

// FailReceive makes ReceivePath answer 503 to its next n authorized calls.
func (s *Server) FailReceive(n int) { s.mu.Lock(); defer s.mu.Unlock(); s.failRecv = n }

func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	ok := s.authorized(r)
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	s.last = r.Header.Clone()
	if !ok {
		s.refused++
	}
	fail := ok && s.failRecv > 0
	if fail {
		s.failRecv--
	}
	if ok && !fail && err == nil && r.Method == http.MethodPost {
		if s.received == nil {
			s.received = map[string][][]byte{}
		}
		k := r.Header.Get("Idempotency-Key")
		s.received[k] = append(s.received[k], body)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		w.Header().Set("WWW-Authenticate", `Bearer realm="WSO2 API Manager"`)
		write(w, http.StatusUnauthorized, map[string]any{"code": "900901", "message": "Invalid Credentials"})
	case fail:
		write(w, http.StatusServiceUnavailable, map[string]any{"code": "101503", "message": "Runtime Error"})
	case r.Method != http.MethodPost || err != nil:
		write(w, http.StatusBadRequest, map[string]any{"message": "POST a document"})
	default:
		write(w, http.StatusOK, map[string]any{"status": "received"})
	}
}

// New returns a gateway that accepts one application's credentials.
func New(consumerKey, consumerSecret string) *Server {
	return &Server{key: consumerKey, sec: consumerSecret, ExpiresIn: 3600, tokens: map[string]time.Time{}, danhmuc: newDanhMuc()}
}

// Start serves s on a loopback httptest server.
func (s *Server) Start() *httptest.Server { return httptest.NewServer(s) }

// Issued returns how many tokens were issued.
func (s *Server) Issued() int { s.mu.Lock(); defer s.mu.Unlock(); return s.issued }

// Calls returns how many calls reached a protected service (REST or SOAP)
// with a valid token.
func (s *Server) Calls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// Refused returns how many protected REST calls were answered 401.
func (s *Server) Refused() int { s.mu.Lock(); defer s.mu.Unlock(); return s.refused }

// LastHeader returns the headers of the last protected REST call.
func (s *Server) LastHeader() http.Header { s.mu.Lock(); defer s.mu.Unlock(); return s.last.Clone() }

// RevokeAll forgets every token (the gateway restarted or revoked them).
func (s *Server) RevokeAll() { s.mu.Lock(); defer s.mu.Unlock(); s.tokens = map[string]time.Time{} }

// ExpireAll makes every issued token expire now on the gateway, while
// clients still hold them as valid (their clock or expires_in disagree).
func (s *Server) ExpireAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for t := range s.tokens {
		s.tokens[t] = now
	}
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/token":
		s.token(w, r)
	case "/dmdc/1.0/AllCategory":
		s.protected(w, r)
	case DanhMucPath:
		s.serveDanhMuc(w, r)
	case ReceivePath:
		s.receive(w, r)
	default:
		write(w, http.StatusNotFound, map[string]string{"error": "not_found"})
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	k, sec, ok := r.BasicAuth()
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		write(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"})
		return
	}
	if !ok || k != s.key || sec != s.sec {
		write(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Client Authentication failed."})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	tok := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	s.mu.Lock()
	exp := s.ExpiresIn
	s.tokens[tok] = time.Now().Add(time.Duration(exp) * time.Second)
	s.issued++
	s.mu.Unlock()
	write(w, http.StatusOK, map[string]any{"access_token": tok, "scope": "am_application_scope default", "token_type": "Bearer", "expires_in": exp})
}

// authorized says whether r carries a valid Bearer token, and counts it as
// a call when it does.
func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, known := s.tokens[tok]
	valid := ok && known && time.Now().Before(exp)
	if valid {
		s.calls++
	}
	return valid
}

func (s *Server) protected(w http.ResponseWriter, r *http.Request) {
	ok := s.authorized(r)
	s.mu.Lock()
	s.last = r.Header.Clone()
	if !ok {
		s.refused++
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="WSO2 API Manager"`)
		write(w, http.StatusUnauthorized, map[string]any{"code": "900901", "message": "Invalid Credentials", "description": "Invalid Credentials. Make sure you have provided the correct security credentials"})
		return
	}
	write(w, http.StatusOK, []map[string]string{{"code": "DT", "name": "Dân tộc"}, {"code": "TG", "name": "Tôn giáo"}})
}
