package route

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/schedule"
)

// TestTimeout bounds the steps of one route test.
const TestTimeout = 30 * time.Second

// TestResult is the outcome of one route test.
type TestResult struct {
	Route string // the route that carries the test
	Name  string
	File  string
	Line  int
	Pass  bool
	Msg   string // why it failed; empty when it passed
}

// String formats the result as "PASS file:line route/test" or
// "FAIL file:line route/test: why".
func (r TestResult) String() string {
	if r.Pass {
		return fmt.Sprintf("PASS %s:%d %s/%s", r.File, r.Line, r.Route, r.Name)
	}
	return fmt.Sprintf("FAIL %s:%d %s/%s: %s", r.File, r.Line, r.Route, r.Name, r.Msg)
}

// RunTests runs the tests of every route of set, in order. A test sends its
// input through the whole set: it is matched by source and data type (a
// test may expect another route, or exchange.no_route), its recipients are
// checked (exchange.recipient_unknown), its size against max_bytes
// (exchange.too_large), then the matched route's steps run. Errors are
// compared by catalogue code. The planned due time is computed from the
// test's now. content_file is read from baseDir, or from the directory of
// the route file when baseDir is empty, and may not leave it.
func RunTests(set *Set, baseDir string) []TestResult {
	var out []TestResult
	for _, r := range set.Routes() {
		for _, t := range r.Tests {
			out = append(out, runTest(set, r, t, baseDir))
		}
	}
	return out
}

func runTest(set *Set, owner *Route, t Test, baseDir string) TestResult {
	res := TestResult{Route: owner.Name, Name: t.Name, File: t.File, Line: t.Line}
	in := t.Input
	m := &bus.Message{
		ExchangeID: "route-test",
		Source:     in.Source,
		Recipients: append([]string(nil), in.Recipients...),
		Title:      t.Name,
		DataType:   in.DataType,
		Protocol:   "test",
		MediaType:  in.MediaType,
	}
	content, hasContent, err := testContent(t, baseDir)
	if err != nil {
		res.Msg = err.Error()
		return res
	}
	if hasContent {
		setContent(m, content)
		m.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }
		m.Replace = func(_ context.Context, mediaType string, r io.Reader) error {
			b, err := io.ReadAll(io.LimitReader(r, owner.MaxBytes+1))
			if err != nil {
				return fmt.Errorf("replacing content: %w", err)
			}
			if int64(len(b)) > owner.MaxBytes {
				return bus.ErrSpaceFull.New("replaced content exceeds %d bytes", owner.MaxBytes)
			}
			content = b
			setContent(m, b)
			m.MediaType = mediaType
			return nil
		}
	}

	var matched *Route
	err = func() error {
		r, ok := set.Match(in.Source, in.DataType)
		if !ok {
			return bus.ErrNoRoute.New("source %s, data type %s", in.Source, in.DataType)
		}
		matched = r
		for _, rc := range in.Recipients {
			if !r.AllowsRecipient(rc) {
				return bus.ErrRecipientUnknown.New("%s is not a recipient of route %s", rc, r.Name)
			}
		}
		if m.Size > r.MaxBytes {
			return bus.ErrSpaceFull.New("%d bytes exceed the route's limit of %d", m.Size, r.MaxBytes)
		}
		ctx, cancel := context.WithTimeout(context.Background(), TestTimeout)
		defer cancel()
		return r.Run(ctx, m)
	}()

	var fails []string
	e := t.Expect
	if e.Route != "" {
		switch {
		case matched == nil:
			fails = append(fails, fmt.Sprintf("no route matched, want route %s", e.Route))
		case matched.Name != e.Route:
			fails = append(fails, fmt.Sprintf("matched route %s, want %s", matched.Name, e.Route))
		}
	}
	switch code := bus.CodeOf(err); {
	case code == e.Error:
	case e.Error == "":
		fails = append(fails, fmt.Sprintf("unexpected error: %v", err))
	case err == nil:
		fails = append(fails, fmt.Sprintf("want error %s, got none", e.Error))
	default:
		fails = append(fails, fmt.Sprintf("got error %v, want %s", err, e.Error))
	}
	if err == nil && matched != nil {
		if !e.Due.IsZero() {
			if due := matched.Plan(t.Now); !due.Equal(e.Due) {
				fails = append(fails, fmt.Sprintf("due %s, want %s", due.In(schedule.Location).Format(time.RFC3339), e.Due.In(schedule.Location).Format(time.RFC3339)))
			}
		}
		for _, k := range sortedKeys(e.Labels) {
			got, ok := m.Labels[k]
			switch {
			case !ok:
				fails = append(fails, fmt.Sprintf("label %s not set, want %q", k, e.Labels[k]))
			case got != e.Labels[k]:
				fails = append(fails, fmt.Sprintf("label %s = %q, want %q", k, got, e.Labels[k]))
			}
		}
	}
	res.Pass = len(fails) == 0
	res.Msg = strings.Join(fails, "; ")
	return res
}

func setContent(m *bus.Message, b []byte) {
	sum := sha256.Sum256(b)
	m.Size = int64(len(b))
	m.SHA256 = hex.EncodeToString(sum[:])
}

// testContent returns the test's payload and whether it declared one.
func testContent(t Test, baseDir string) ([]byte, bool, error) {
	in := t.Input
	if in.ContentFile == "" {
		return []byte(in.Content), in.Content != "", nil
	}
	if baseDir == "" {
		baseDir = filepath.Dir(t.File)
	}
	root, err := os.OpenRoot(baseDir)
	if err != nil {
		return nil, false, fmt.Errorf("reading content_file: %w", err)
	}
	defer root.Close()
	b, err := root.ReadFile(filepath.FromSlash(in.ContentFile))
	if err != nil {
		return nil, false, fmt.Errorf("reading content_file: %w", err)
	}
	return b, true, nil
}
