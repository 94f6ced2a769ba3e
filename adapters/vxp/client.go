package vxp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
)

// Message and service types of the axis (docs/gateways.md §2).
const (
	MessageEdoc   = "edoc"   // document packet
	MessageStatus = "status" // status packet
	ServiceEDoc   = "eDoc"
)

// Transport statuses for UpdateStatus (docs/gateways.md §2: value seen "done").
const (
	TransportDone = "done"
	TransportFail = "fail"
)

// Client calls one VXP endpoint as one system (systemid + secret). It is
// safe for concurrent use.
type Client struct {
	BaseURL  string // e.g. http://vxpdungchung.vnpt.vn (no trailing operation)
	SystemID string // the unit's systemid on the axis
	Secret   string // its HMAC secret
	// HTTP carries the calls. Every method makes one attempt: what must
	// be tried again is an outbox item of the delivery engine (Poller's
	// kinds vxp_pull, vxp_push, vxp_status), retried there with the one
	// retry policy; a failed list call waits for the next poll.
	HTTP *http.Client
	// Now and Location make the timestamp header (default time.Now,
	// Asia/Ho_Chi_Minh).
	Now      func() time.Time
	Location *time.Location
}

var hcm = func() *time.Location {
	l, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		return time.FixedZone("ICT", 7*3600)
	}
	return l
}()

// defaultHTTP builds its transport at first use, with the outbound TLS
// settings (outbound_tls) the node set at start, not those of init time.
var defaultHTTP = &http.Client{Transport: bus.NewTLSTransport(func() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   10, // the SDK's max connections
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
})}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// headers returns the logical headers of a call: timestamp, systemid and
// Content-Type (the SDK's order of HashMap.put), then the call's own.
func (c *Client) headers(contentType string, call ...Header) []Header {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	loc := c.Location
	if loc == nil {
		loc = hcm
	}
	h := []Header{{"timestamp", FormatTimestamp(now(), loc)}, {"systemid", c.SystemID}, {"Content-Type", contentType}}
	return append(h, call...)
}

// Flex is a JSON value read as text: the axis sends some fields as
// strings or numbers depending on the deployment.
type Flex string

// UnmarshalJSON accepts a string, a number, a boolean or null.
func (f *Flex) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = Flex(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	*f = Flex(b)
	return nil
}

// Edoc is one entry of getReceivedEdocList (field names as on the wire).
type Edoc struct {
	DocID       Flex `json:"docId"`
	ServiceType Flex `json:"serviceType"`
	MessageType Flex `json:"messageType"`
	CreatedTime Flex `json:"created_time"`
	UpdatedTime Flex `json:"updated_time"`
	From        Flex `json:"from"`
	To          Flex `json:"to"`
	Status      Flex `json:"status"`
	StatusDesc  Flex `json:"status_desc"`
}

// SentEdoc is one entry of getSentEdocList: one recipient of a sent packet.
type SentEdoc struct {
	SenderDocID       Flex `json:"senderDocId"`
	ReceiverDocID     Flex `json:"receiverDocId"`
	FromCode          Flex `json:"fromCode"`
	ToCode            Flex `json:"toCode"`
	Title             Flex `json:"title"`
	Notation          Flex `json:"notation"`
	MessageType       Flex `json:"messageType"`
	ServiceType       Flex `json:"serviceType"`
	SentTime          Flex `json:"sentTime"`
	ReceivedTime      Flex `json:"receivedTime"`
	SendStatus        Flex `json:"sendStatus"`
	SendStatusDesc    Flex `json:"sendStatusDesc"`
	ReceiveStatus     Flex `json:"receiveStatus"`
	ReceiveStatusDesc Flex `json:"receiveStatusDesc"`
}

// Agency is one entry of getAgenciesList.
type Agency struct {
	ID      Flex `json:"id"`
	Code    Flex `json:"code"`
	Pid     Flex `json:"pid"`
	Name    Flex `json:"name"`
	Mail    Flex `json:"mail"`
	OldCode Flex `json:"oldCode"`
}

// reply is the axis's answer envelope.
type reply struct {
	Status    Flex            `json:"status"`
	ErrorCode Flex            `json:"ErrorCode"`
	ErrorDesc Flex            `json:"ErrorDesc"`
	DocID     Flex            `json:"DocId"`
	Data      json.RawMessage `json:"data"`
}

func refused(op string, code, desc Flex) error {
	return bus.ErrGatewayRefused.New("vxp %s: ErrorCode %s: %s", op, code, desc)
}

func (r *reply) check(op string) error {
	if string(r.ErrorCode) != "0" || strings.EqualFold(string(r.Status), "FAIL") {
		return refused(op, r.ErrorCode, r.ErrorDesc)
	}
	return nil
}

// send performs one call and maps transport and HTTP errors; on success it
// returns the open response (status 2xx).
// The body is sent with its Content-Length (never chunked, as the SDK).
func (c *Client) send(ctx context.Context, op string, body io.Reader, length int64, logical []Header) (*http.Response, error) {
	if length == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/"+op, body)
	if err != nil {
		return nil, fmt.Errorf("vxp %s: %w", op, err)
	}
	req.ContentLength = length
	s := Sign(c.Secret, logical)
	s.Apply(req.Header)
	resp, err := c.http().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, bus.ErrGatewayUnreachable.Wrap(err, "vxp %s: %v", op, ctx.Err())
		}
		return nil, bus.ErrGatewayUnreachable.Wrap(err, "vxp %s at %s", op, c.BaseURL)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var r reply
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &r)
	desc := string(r.ErrorDesc)
	if desc == "" {
		desc = strings.TrimSpace(string(b))
		if len(desc) > 200 {
			desc = desc[:200]
		}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, bus.ErrGatewayAuth.New("vxp %s: HTTP %d: %s", op, resp.StatusCode, desc)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, bus.ErrGatewayUnreachable.New("vxp %s: HTTP %d: %s", op, resp.StatusCode, desc)
	default:
		return nil, bus.ErrGatewayRefused.New("vxp %s: HTTP %d: %s", op, resp.StatusCode, desc)
	}
}

// Request bodies of the JSON calls, as the SDK sends them: the list calls
// send nothing, getEdoc and updateStatus the empty JSON object.
const (
	noBody    = ""
	emptyJSON = "{}"
)

// call runs an idempotent JSON call and decodes data into out (if not nil).
func (c *Client) call(ctx context.Context, op, body string, out any, call ...Header) error {
	resp, err := c.send(ctx, op, strings.NewReader(body), int64(len(body)), c.headers("application/json", call...))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r reply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&r); err != nil {
		return bus.ErrGatewayBadReply.Wrap(err, "vxp %s: answer is not the JSON envelope", op)
	}
	if err := r.check(op); err != nil {
		return err
	}
	if out != nil && len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, out); err != nil {
			return bus.ErrGatewayBadReply.Wrap(err, "vxp %s: data", op)
		}
	}
	return nil
}

// GetReceivedEdocList lists packets waiting for this system; messageType
// is MessageEdoc or MessageStatus.
func (c *Client) GetReceivedEdocList(ctx context.Context, messageType string) ([]Edoc, error) {
	var out []Edoc
	err := c.call(ctx, "getReceivedEdocList", noBody, &out, Header{"servicetype", ServiceEDoc}, Header{"messagetype", messageType})
	return out, err
}

// GetSentEdocList lists what this system sent, per recipient, with the
// send and receive statuses.
func (c *Client) GetSentEdocList(ctx context.Context, messageType string) ([]SentEdoc, error) {
	var out []SentEdoc
	err := c.call(ctx, "getSentEdocList", noBody, &out, Header{"servicetype", ServiceEDoc}, Header{"messagetype", messageType})
	return out, err
}

// GetAgencies returns the agency list of the axis (getAgenciesList).
func (c *Client) GetAgencies(ctx context.Context) ([]Agency, error) {
	var out []Agency
	err := c.call(ctx, "getAgenciesList", noBody, &out)
	return out, err
}

// UpdateStatus sets the transport status of a received packet
// (TransportDone once it is safely stored, TransportFail).
func (c *Client) UpdateStatus(ctx context.Context, docID, status string) error {
	return c.call(ctx, "updateStatus", emptyJSON, nil, Header{"docid", docID}, Header{"status", status})
}

// GetEdoc downloads a packet. The answer's base64 "data" is decoded while
// it is read: the returned reader streams the .edxml and never holds it
// whole. Read returns a gateway error instead of io.EOF if the answer
// turns out to be a failure or is cut short.
func (c *Client) GetEdoc(ctx context.Context, docID string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, "getEdoc", strings.NewReader(emptyJSON), int64(len(emptyJSON)), c.headers("application/json", Header{"docId", docID}))
	if err != nil {
		return nil, err
	}
	r, err := openEdoc(resp.Body)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	return r, nil
}

// edocReader streams the decoded "data" of a getEdoc answer.
type edocReader struct {
	body   io.ReadCloser
	sc     *scanner
	dec    io.Reader
	fields map[string]string
	err    error
}

// openEdoc reads the answer up to the start of "data" (failing early when
// the fields before it already say FAIL).
func openEdoc(body io.ReadCloser) (*edocReader, error) {
	r := &edocReader{body: body, sc: &scanner{br: bufio.NewReaderSize(body, 64<<10)}, fields: map[string]string{}}
	c, err := r.sc.ws()
	if err != nil || c != '{' {
		return nil, bus.ErrGatewayBadReply.New("vxp getEdoc: answer is not a JSON object")
	}
	for {
		c, err := r.sc.ws()
		if err != nil {
			return nil, bus.ErrGatewayBadReply.Wrap(err, "vxp getEdoc: answer cut short")
		}
		if c == '}' {
			// No data at all.
			if err := r.verdict(); err != nil {
				return nil, err
			}
			return nil, bus.ErrGatewayBadReply.New("vxp getEdoc: answer has no data")
		}
		if c == ',' {
			continue
		}
		if c != '"' {
			return nil, bus.ErrGatewayBadReply.New("vxp getEdoc: malformed answer")
		}
		key, err := r.sc.str()
		if err != nil {
			return nil, bus.ErrGatewayBadReply.Wrap(err, "vxp getEdoc: malformed answer")
		}
		if c, err = r.sc.ws(); err != nil || c != ':' {
			return nil, bus.ErrGatewayBadReply.New("vxp getEdoc: malformed answer")
		}
		if c, err = r.sc.ws(); err != nil {
			return nil, bus.ErrGatewayBadReply.Wrap(err, "vxp getEdoc: answer cut short")
		}
		if key == "data" && c == '"' {
			if err := r.verdict(); err != nil && r.fields["ErrorCode"] != "" {
				return nil, err
			}
			r.dec = base64.NewDecoder(base64.StdEncoding, &strReader{s: r.sc})
			return r, nil
		}
		v, err := r.sc.value(c)
		if err != nil {
			return nil, bus.ErrGatewayBadReply.Wrap(err, "vxp getEdoc: malformed answer")
		}
		r.fields[key] = v
	}
}

// verdict judges the envelope fields read so far.
func (r *edocReader) verdict() error {
	code, status := r.fields["ErrorCode"], r.fields["status"]
	if code != "0" || strings.EqualFold(status, "FAIL") {
		return refused("getEdoc", Flex(code), Flex(r.fields["ErrorDesc"]))
	}
	return nil
}

func (r *edocReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.dec.Read(p)
	if err == io.EOF {
		// The data string ended: read the fields after it for the verdict.
		if ferr := r.rest(); ferr != nil {
			r.err = ferr
			return n, ferr
		}
		r.err = io.EOF
		return n, io.EOF
	}
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			err = bus.ErrGatewayBadReply.Wrap(err, "vxp getEdoc: data is not base64")
		} else if errors.Is(err, io.ErrUnexpectedEOF) {
			err = bus.ErrGatewayUnreachable.Wrap(err, "vxp getEdoc: download cut short")
		}
		r.err = err
	}
	return n, err
}

func (r *edocReader) rest() error {
	for {
		c, err := r.sc.ws()
		if err != nil {
			return bus.ErrGatewayUnreachable.Wrap(err, "vxp getEdoc: answer cut short")
		}
		switch c {
		case '}':
			return r.verdict()
		case ',':
			continue
		case '"':
			key, err := r.sc.str()
			if err != nil {
				return bus.ErrGatewayBadReply.Wrap(err, "vxp getEdoc: malformed answer")
			}
			if c, err = r.sc.ws(); err != nil || c != ':' {
				return bus.ErrGatewayBadReply.New("vxp getEdoc: malformed answer")
			}
			if c, err = r.sc.ws(); err != nil {
				return bus.ErrGatewayUnreachable.Wrap(err, "vxp getEdoc: answer cut short")
			}
			v, err := r.sc.value(c)
			if err != nil {
				return bus.ErrGatewayBadReply.Wrap(err, "vxp getEdoc: malformed answer")
			}
			r.fields[key] = v
		default:
			return bus.ErrGatewayBadReply.New("vxp getEdoc: malformed answer")
		}
	}
}

func (r *edocReader) Close() error { return r.body.Close() }

// SendRequest is one sendEdoc call.
type SendRequest struct {
	From        string   // must be the client's systemid on the real axis
	To          []string // recipients' agency codes
	MessageType string   // MessageEdoc (default) or MessageStatus
	// SHA256 (32 bytes) and Size of the body. When SHA256 is nil, Body must
	// be an io.ReadSeeker: it is streamed once to hash and count it, then
	// rewound. When SHA256 is given without Size, Body must be an
	// io.Seeker (its end gives the size).
	SHA256 []byte
	Size   int64
	Body   io.Reader
}

// crlf follows the file on the wire: the SDK's upload helper writes the
// bytes, then "\r\n" (a multipart habit without any multipart framing),
// and counts it in Content-Length.
const crlf = "\r\n"

// measure returns the SHA-256 and size of req's body, streaming it once
// when they are not given (never holding it whole).
func (req *SendRequest) measure() ([]byte, int64, error) {
	sum, size := req.SHA256, req.Size
	if sum == nil {
		rs, ok := req.Body.(io.ReadSeeker)
		if !ok {
			return nil, 0, fmt.Errorf("vxp sendEdoc: SHA256 and Size are required when the body cannot be rewound")
		}
		h := sha256.New()
		n, err := io.Copy(h, rs)
		if err != nil {
			return nil, 0, fmt.Errorf("vxp sendEdoc: hashing the packet: %w", err)
		}
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return nil, 0, fmt.Errorf("vxp sendEdoc: rewinding the packet: %w", err)
		}
		return h.Sum(nil), n, nil
	}
	if size <= 0 {
		sk, ok := req.Body.(io.Seeker)
		if !ok {
			return nil, 0, fmt.Errorf("vxp sendEdoc: Size is required when the body cannot seek")
		}
		cur, err := sk.Seek(0, io.SeekCurrent)
		if err == nil {
			size, err = sk.Seek(0, io.SeekEnd)
		}
		if err == nil {
			_, err = sk.Seek(cur, io.SeekStart)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("vxp sendEdoc: sizing the packet: %w", err)
		}
		size -= cur
	}
	return sum, size, nil
}

// SendEdoc uploads a packet as the SDK does: the raw file as the request
// body (Content-Type application/octet-stream, plain and signed), with
// Content-Length, followed by CRLF — no multipart boundary, no part
// headers. The body is streamed, never held whole. It returns the axis's
// DocId. It is not retried: the axis has no idempotency key, so a retry
// after a lost answer could deliver twice; callers decide.
func (c *Client) SendEdoc(ctx context.Context, req SendRequest) (string, error) {
	if req.Body == nil || len(req.To) == 0 {
		return "", fmt.Errorf("vxp sendEdoc: a body and at least one recipient are required")
	}
	sum, size, err := req.measure()
	if err != nil {
		return "", err
	}
	mt := req.MessageType
	if mt == "" {
		mt = MessageEdoc
	}
	// "to" is a JSON array sent as its Gson string (KnobstickServiceImp
	// line 272–274: JsonArray.toString()).
	var to strings.Builder
	to.WriteByte('[')
	for i, t := range req.To {
		if i > 0 {
			to.WriteByte(',')
		}
		gsonQuote(&to, t)
	}
	to.WriteByte(']')

	body := &exactReader{r: req.Body, left: size}
	logical := c.headers("application/octet-stream",
		Header{"from", req.From}, Header{"to", to.String()}, Header{"servicetype", ServiceEDoc},
		Header{"messagetype", mt}, Header{"hash-file", HashFile(sum)})
	resp, err := c.send(ctx, "sendEdoc", io.MultiReader(body, strings.NewReader(crlf)), size+int64(len(crlf)), logical)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r reply
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", bus.ErrGatewayUnreachable.Wrap(err, "vxp sendEdoc: reading the answer")
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
		return "", bus.ErrGatewayBadReply.Wrap(err, "vxp sendEdoc: answer is not the JSON envelope")
	}
	if err := r.check("sendEdoc"); err != nil {
		return "", err
	}
	if r.DocID == "" {
		return "", bus.ErrGatewayBadReply.New("vxp sendEdoc: answer has no DocId")
	}
	return string(r.DocID), nil
}

// exactReader passes on exactly left bytes of r and fails if r ends
// earlier, so that a short file cannot shift the CRLF into the count.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		if n > 0 {
			err = nil
		}
	}
	return n, err
}
