package vxpsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Agency is one unit known to the axis.
type Agency struct {
	Code, Name, Mail, Pid string
}

// Doc is one packet on the axis.
type Doc struct {
	ID          string
	From        string
	To          []string
	MessageType string // edoc | status
	ServiceType string
	Body        []byte
	Created     time.Time
	// Per recipient: transport status set by updateStatus ("" = inbox).
	Transport map[string]string
}

// Call records one request the simulator accepted or refused.
type Call struct {
	Op       string
	SystemID string
	Headers  map[string]string // signed logical headers
	Err      string            // ErrorDesc when refused
	At       time.Time
}

// Server is the simulated axis.
type Server struct {
	mu       sync.Mutex
	secrets  map[string]string // systemid → secret
	agencies []Agency
	docs     []*Doc
	calls    []Call
	seq      int
	// FailNext makes the next n calls answer HTTP 503 (retry tests).
	failNext int
	failOp   map[string]int
	// now and window bound the signed timestamp (SetClock).
	now    func() time.Time
	window time.Duration
}

// DefaultWindow is how far a call's signed timestamp may be from the
// simulator's clock. The SDK freezes the timestamp when its service object
// is built, and integrators reuse that object: a frozen timestamp is
// accepted while it is within the window.
const DefaultWindow = time.Hour

// SetClock sets the simulator's clock and timestamp window (replays of
// recorded calls pin the clock to the time of the recording).
func (s *Server) SetClock(now func() time.Time, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now, s.window = now, window
}

var hcm = func() *time.Location {
	l, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		return time.FixedZone("ICT", 7*3600)
	}
	return l
}()

// checkTimestamp parses the SDK's "ddMMyyyy'T'HHmmss+SSSS" (local time of
// Viet Nam; "+SSSS" are milliseconds) and checks it against the window.
func (s *Server) checkTimestamp(ts string) error {
	main, ms, ok := strings.Cut(ts, "+")
	t, err := time.ParseInLocation("02012006T150405", main, hcm)
	if !ok || err != nil || len(ms) != 4 {
		return fmt.Errorf("timestamp khong dung dinh dang")
	}
	s.mu.Lock()
	now, window := s.now, s.window
	s.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	if window == 0 {
		window = DefaultWindow
	}
	if d := now().Sub(t); d > window || d < -window {
		return fmt.Errorf("timestamp nam ngoai khoang cho phep")
	}
	return nil
}

// New returns a simulator that accepts the given systemid → secret pairs.
func New(secrets map[string]string) *Server {
	s := &Server{secrets: map[string]string{}}
	for k, v := range secrets {
		s.secrets[k] = v
	}
	return s
}

// Start serves s on a loopback httptest server (closed by the caller).
func (s *Server) Start() *httptest.Server { return httptest.NewServer(s) }

// AddAgency adds a unit to getAgenciesList.
func (s *Server) AddAgency(a Agency) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agencies = append(s.agencies, a)
}

// FailNext makes the next n calls fail with HTTP 503.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// FailOp makes the next n calls of operation op answer HTTP 503 (a crash
// between a pull and its acknowledgement, for example).
func (s *Server) FailOp(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failOp == nil {
		s.failOp = map[string]int{}
	}
	s.failOp[op] = n
}

// Put places a packet on the axis as if from had sent it to to; it
// returns its docId.
func (s *Server) Put(from string, to []string, messageType string, body []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(from, to, messageType, body)
}

// PutWithID is Put with a chosen docId (replays of recorded calls name
// theirs).
func (s *Server) PutWithID(id, from string, to []string, messageType string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(from, to, messageType, body)
	s.docs[len(s.docs)-1].ID = id
}

func (s *Server) put(from string, to []string, messageType string, body []byte) string {
	s.seq++
	id := fmt.Sprintf("vxp-%06d-%s", s.seq, strings.ReplaceAll(from, ".", ""))
	s.docs = append(s.docs, &Doc{ID: id, From: from, To: append([]string(nil), to...), MessageType: messageType, ServiceType: "eDoc",
		Body: append([]byte(nil), body...), Created: time.Now(), Transport: map[string]string{}})
	return id
}

// Docs returns copies of the packets matching keep (nil: all).
func (s *Server) Docs(keep func(*Doc) bool) []Doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Doc
	for _, d := range s.docs {
		if keep == nil || keep(d) {
			c := *d
			c.Transport = map[string]string{}
			for k, v := range d.Transport {
				c.Transport[k] = v
			}
			out = append(out, c)
		}
	}
	return out
}

// Transport returns the transport status recipient set on docID.
func (s *Server) Transport(docID, recipient string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.docs {
		if d.ID == docID {
			return d.Transport[recipient]
		}
	}
	return ""
}

// Calls returns the calls seen so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

type answer map[string]any

func ok(extra answer) answer {
	a := answer{"status": "OK", "ErrorCode": "0", "ErrorDesc": "Success"}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func fail(code, desc string) answer {
	return answer{"status": "FAIL", "ErrorCode": code, "ErrorDesc": desc}
}

func write(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}

// verify checks the XroadVnpt signature and returns the signed headers.
// Header values travel as ISO-8859-1 (the SDK's HTTP library) while the
// HMAC covers the UTF-8 of the JSON, so the bytes are read as Latin-1, as
// a Java server does. Go files "docId" and "docid" under one canonical
// name: a signed value must be one of that name's values (a reused SDK
// object sends both).
func (s *Server) verify(r *http.Request) (string, map[string]string, error) {
	keyList := r.Header.Get("XroadVnpt-sign-header-key")
	signed := latin1(r.Header.Get("XroadVnpt-sign-header"))
	hash := r.Header.Get("XroadVnpt-hash-header")
	if keyList == "" || signed == "" || hash == "" {
		return "", nil, fmt.Errorf("thieu XroadVnpt-sign-header-key / sign-header / hash-header")
	}
	sys := r.Header.Get("XroadVnpt-systemid")
	s.mu.Lock()
	secret, known := s.secrets[sys]
	s.mu.Unlock()
	if !known {
		return sys, nil, fmt.Errorf("systemid %q chua dang ky", sys)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(signed))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(hash)) {
		return sys, nil, fmt.Errorf("sai chu ky XroadVnpt-hash-header")
	}
	dec := json.NewDecoder(strings.NewReader(signed))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return sys, nil, fmt.Errorf("XroadVnpt-sign-header khong phai JSON")
	}
	names := strings.Split(keyList, ";")
	out := map[string]string{}
	for i := 0; dec.More(); i++ {
		k, err1 := dec.Token()
		v, err2 := dec.Token()
		ks, _ := k.(string)
		vs, isStr := v.(string)
		if err1 != nil || err2 != nil || !isStr {
			return sys, nil, fmt.Errorf("XroadVnpt-sign-header sai dinh dang")
		}
		if i >= len(names) || ks != "XroadVnpt-"+names[i] {
			return sys, nil, fmt.Errorf("XroadVnpt-sign-header-key khong khop voi sign-header")
		}
		if !sentOneOf(r.Header.Values(ks), vs) {
			return sys, nil, fmt.Errorf("tieu de %s khac gia tri da ky", ks)
		}
		out[names[i]] = vs
	}
	if len(out) != len(names) {
		return sys, nil, fmt.Errorf("XroadVnpt-sign-header-key khong khop voi sign-header")
	}
	if out["systemid"] != sys || out["timestamp"] == "" {
		return sys, nil, fmt.Errorf("systemid va timestamp phai duoc ky")
	}
	if err := s.checkTimestamp(out["timestamp"]); err != nil {
		return sys, nil, err
	}
	return sys, out, nil
}

func latin1(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

func sentOneOf(sent []string, signed string) bool {
	if len(sent) == 0 {
		return signed == ""
	}
	for _, v := range sent {
		if latin1(v) == signed {
			return true
		}
	}
	return false
}

// ServeHTTP implements the axis.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	if s.failOp[op] > 0 {
		s.failOp[op]--
		s.mu.Unlock()
		write(w, http.StatusServiceUnavailable, fail("503", "He thong dang ban"))
		return
	}
	if s.failNext > 0 {
		s.failNext--
		s.mu.Unlock()
		write(w, http.StatusServiceUnavailable, fail("503", "He thong dang ban"))
		return
	}
	s.mu.Unlock()
	sys, hdr, err := s.verify(r)
	s.mu.Lock()
	s.calls = append(s.calls, Call{Op: op, SystemID: sys, Headers: hdr, Err: errText(err), At: time.Now()})
	s.mu.Unlock()
	if err != nil {
		write(w, http.StatusUnauthorized, fail("401", err.Error()))
		return
	}
	if r.Method != http.MethodPost {
		write(w, http.StatusMethodNotAllowed, fail("405", "chi ho tro POST"))
		return
	}
	switch op {
	case "getReceivedEdocList":
		s.received(w, sys, hdr)
	case "getEdoc":
		s.getEdoc(w, sys, hdr)
	case "updateStatus":
		s.updateStatus(w, sys, hdr)
	case "sendEdoc":
		s.sendEdoc(w, r, sys, hdr)
	case "getSentEdocList":
		s.sent(w, sys, hdr)
	case "getAgenciesList":
		s.agenciesList(w)
	default:
		write(w, http.StatusNotFound, fail("404", "khong co dich vu "+op))
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

const timeFmt = "2006-01-02 15:04:05"

func (s *Server) received(w http.ResponseWriter, sys string, hdr map[string]string) {
	mt := hdr["messagetype"]
	if mt == "" {
		mt = "edoc"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []answer{}
	for _, d := range s.docs {
		if d.MessageType != mt || !contains(d.To, sys) {
			continue
		}
		st := d.Transport[sys]
		if st == "done" || st == "fail" {
			continue
		}
		if st == "" {
			st = "inbox"
		}
		data = append(data, answer{"docId": d.ID, "serviceType": d.ServiceType, "messageType": d.MessageType,
			"created_time": d.Created.Format(timeFmt), "updated_time": d.Created.Format(timeFmt),
			"from": d.From, "to": sys, "status": st, "status_desc": st})
	}
	write(w, http.StatusOK, ok(answer{"data": data}))
}

func (s *Server) find(id string) *Doc {
	for _, d := range s.docs {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (s *Server) getEdoc(w http.ResponseWriter, sys string, hdr map[string]string) {
	s.mu.Lock()
	d := s.find(hdr["docId"])
	s.mu.Unlock()
	if d == nil || !contains(d.To, sys) {
		write(w, http.StatusOK, fail("404", "Khong tim thay van ban "+hdr["docId"]))
		return
	}
	write(w, http.StatusOK, ok(answer{"data": base64.StdEncoding.EncodeToString(d.Body)}))
}

func (s *Server) updateStatus(w http.ResponseWriter, sys string, hdr map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.find(hdr["docid"])
	if d == nil || !contains(d.To, sys) {
		write(w, http.StatusOK, fail("404", "Khong tim thay van ban "+hdr["docid"]))
		return
	}
	switch hdr["status"] {
	case "done", "fail", "inbox", "acceptance", "rejection", "processing":
	default:
		write(w, http.StatusOK, fail("400", "trang thai khong hop le: "+hdr["status"]))
		return
	}
	d.Transport[sys] = hdr["status"]
	write(w, http.StatusOK, ok(nil))
}

// javaHex is Integer.toHexString per byte (no zero padding), as the SDK
// computes hash-file.
func javaHex(sum []byte) string {
	var b strings.Builder
	for _, x := range sum {
		fmt.Fprintf(&b, "%x", x)
	}
	return b.String()
}

// sendEdoc reads the body as the real axis does: the raw .edxml bytes
// (the SDK follows them with CRLF, which hash-file does not cover). A
// multipart body is just bytes that are not an edXML packet. Recipients
// are the signed "to" when present, else the packet's To (or, for a status
// packet, ResponseFor) organ ids.
func (s *Server) sendEdoc(w http.ResponseWriter, r *http.Request, sys string, hdr map[string]string) {
	if from, ok := hdr["from"]; ok && from != sys {
		write(w, http.StatusOK, fail("19", fmt.Sprintf("Don vi gui %s khong dung voi ma da dang ky", from)))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil || len(body) == 0 {
		write(w, http.StatusOK, fail("10", "Khong doc duoc noi dung tep"))
		return
	}
	sum := sha256.Sum256(body)
	if hdr["hash-file"] != javaHex(sum[:]) && bytes.HasSuffix(body, []byte("\r\n")) {
		body = body[:len(body)-2]
		sum = sha256.Sum256(body)
	}
	if hdr["hash-file"] != javaHex(sum[:]) {
		write(w, http.StatusOK, fail("21", "hash-file khong khop voi noi dung tep"))
		return
	}
	mt := hdr["messagetype"]
	if mt != "edoc" && mt != "status" {
		write(w, http.StatusOK, fail("22", "messagetype khong hop le"))
		return
	}
	to, err := packetTo(body)
	if err != nil || !bytes.Contains(body, []byte("edXMLEnvelope")) {
		write(w, http.StatusOK, fail("22", "Goi tin edXML khong dung dinh dang"))
		return
	}
	if t, ok := hdr["to"]; ok {
		to = nil
		if err := json.Unmarshal([]byte(t), &to); err != nil || len(to) == 0 {
			write(w, http.StatusOK, fail("18", "Danh sach don vi nhan khong hop le"))
			return
		}
	}
	if len(to) == 0 {
		write(w, http.StatusOK, fail("18", "Goi tin khong co don vi nhan"))
		return
	}
	s.mu.Lock()
	id := s.put(sys, to, mt, body)
	s.mu.Unlock()
	write(w, http.StatusOK, ok(answer{"DocId": id}))
}

// packetTo returns the organ ids of the packet's MessageHeader To
// elements, or of its ResponseFor elements when it has no To. It fails on
// anything that is not one well-formed XML document with an edXML root —
// text around the root (multipart framing) included.
func packetTo(body []byte) ([]string, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var path []string
	var to, resp []string
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = t.Name.Local
			}
			path = append(path, t.Name.Local)
		case xml.EndElement:
			path = path[:len(path)-1]
		case xml.CharData:
			if len(path) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("text outside the root element") // e.g. multipart boundaries
			}
			n := len(path)
			if n >= 3 && path[n-1] == "OrganId" && path[n-3] == "MessageHeader" {
				switch path[n-2] {
				case "To":
					to = append(to, strings.TrimSpace(string(t)))
				case "ResponseFor":
					resp = append(resp, strings.TrimSpace(string(t)))
				}
			}
		}
	}
	if root != "edXML" {
		return nil, fmt.Errorf("not edXML")
	}
	if len(to) == 0 {
		to = resp
	}
	return to, nil
}

func (s *Server) sent(w http.ResponseWriter, sys string, hdr map[string]string) {
	mt := hdr["messagetype"]
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []answer{}
	for _, d := range s.docs {
		if d.From != sys || (mt != "" && d.MessageType != mt) {
			continue
		}
		for _, t := range d.To {
			rs := d.Transport[t]
			if rs == "" {
				rs = "inbox"
			}
			data = append(data, answer{"senderDocId": d.ID, "receiverDocId": d.ID, "fromCode": d.From, "toCode": t,
				"title": "", "notation": "", "messageType": d.MessageType, "serviceType": d.ServiceType,
				"sentTime": d.Created.Format(timeFmt), "receivedTime": "", "sendStatus": "done", "sendStatusDesc": "Da gui",
				"receiveStatus": rs, "receiveStatusDesc": rs})
		}
	}
	write(w, http.StatusOK, ok(answer{"data": data}))
}

func (s *Server) agenciesList(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := []answer{}
	for i, a := range s.agencies {
		data = append(data, answer{"id": i + 1, "code": a.Code, "pid": a.Pid, "name": a.Name, "mail": a.Mail, "oldCode": ""})
	}
	sort.SliceStable(data, func(i, j int) bool { return data[i]["code"].(string) < data[j]["code"].(string) })
	write(w, http.StatusOK, ok(answer{"data": data}))
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
