package vxpsim

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Capture is one HTTP request recorded from the vendor SDK (see
// adapters/vxp/testdata/captures/README.md).
type Capture struct {
	Name        string   // directory/file, e.g. "sdk-fixed/05-sendEdoc.json"
	RequestLine string   `json:"request_line"`
	Headers     []string `json:"headers"` // "Name: value", wire order, names as sent
	Body        []byte   `json:"-"`
	BodyB64     string   `json:"body_b64"`
}

// LoadCaptures reads every *.json capture under dir (sorted by name).
func LoadCaptures(dir string) ([]Capture, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Capture
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c Capture
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if c.Body, err = base64.StdEncoding.DecodeString(c.BodyB64); err != nil {
			return nil, fmt.Errorf("%s: body: %w", f, err)
		}
		rel, _ := filepath.Rel(dir, f)
		c.Name = filepath.ToSlash(rel)
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no captures under %s", dir)
	}
	return out, nil
}

// Op is the operation of the request line ("sendEdoc" …).
func (c Capture) Op() string {
	f := strings.Fields(c.RequestLine)
	if len(f) < 2 {
		return ""
	}
	return strings.TrimPrefix(f[1], "/")
}

// Header returns the value of the first header named exactly name.
func (c Capture) Header(name string) string {
	for _, h := range c.Headers {
		if n, v, ok := strings.Cut(h, ": "); ok && n == name {
			return v
		}
	}
	return ""
}

// SetHeader replaces the value of every header named exactly name.
func (c *Capture) SetHeader(name, value string) {
	hs := append([]string(nil), c.Headers...)
	for i, h := range hs {
		if n, _, ok := strings.Cut(h, ": "); ok && n == name {
			hs[i] = name + ": " + value
		}
	}
	c.Headers = hs
}

// Replay sends the request byte for byte (header names and duplicates
// as recorded; Host, Connection and Expect adapted to a one-shot
// connection) to addr under pathPrefix, and returns the answer with its
// body read.
func (c Capture) Replay(addr, pathPrefix string) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	f := strings.Fields(c.RequestLine)
	fmt.Fprintf(&b, "%s %s%s %s\r\n", f[0], pathPrefix, f[1], f[2])
	for _, h := range c.Headers {
		n, _, _ := strings.Cut(h, ": ")
		switch strings.ToLower(n) {
		case "host":
			h = "Host: " + addr
		case "connection":
			h = "Connection: close"
		case "expect":
			continue // the body follows at once; a server may still answer 100
		}
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, nil, err
	}
	if _, err := conn.Write(c.Body); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}
