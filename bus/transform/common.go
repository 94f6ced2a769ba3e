package transform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/xmldsig"
)

// routesDir is embedded in configurations that name files; the route loader
// sets it (bus.RoutesDirSetter).
type routesDir struct{ dir string }

// SetRoutesDir implements bus.RoutesDirSetter.
func (r *routesDir) SetRoutesDir(dir string) { r.dir = dir }

// path resolves p against the routes folder unless it is absolute.
func (r *routesDir) path(p string) string {
	if p == "" || filepath.IsAbs(p) || r.dir == "" {
		return p
	}
	return filepath.Join(r.dir, p)
}

func (r *routesDir) paths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = r.path(p)
	}
	return out
}

// maxIssues bounds the issues named in one step failure.
const maxIssues = 10

// IssueText renders an issue as "<code> <path> at line:col: msg" for error
// details and labels.
func IssueText(i edxml.Issue) string {
	s := string(i.Code)
	if i.Path != "" {
		s += " " + i.Path
	}
	if i.Line > 0 {
		s += " at " + strconv.Itoa(i.Line) + ":" + strconv.Itoa(i.Col)
	}
	return s + ": " + i.Msg
}

// issuesFailure returns ErrStepFailed naming the errors among issues, or nil.
func issuesFailure(step string, issues []edxml.Issue) error {
	var errs []string
	n := 0
	for _, i := range issues {
		if i.Severity != edxml.SeverityError {
			continue
		}
		n++
		if len(errs) < maxIssues {
			errs = append(errs, IssueText(i))
		}
	}
	if n == 0 {
		return nil
	}
	more := ""
	if n > len(errs) {
		more = fmt.Sprintf(" (and %d more)", n-len(errs))
	}
	return bus.ErrStepFailed.New("%s: %s%s", step, strings.Join(errs, "; "), more)
}

// contentFailure maps an error met while reading or parsing content to a
// step failure when it is about the content, or returns it as a platform
// fault otherwise.
func contentFailure(step string, err error) error {
	var ee *edxml.Error
	var de *xmldsig.Error
	var be *bus.Error
	var je *jsonError
	switch {
	case errors.As(err, &be):
		return err
	case errors.As(err, &ee):
		return bus.ErrStepFailed.New("%s: %s", step, IssueText(ee.Issue))
	case errors.As(err, &de):
		// Msg is safe to show; Cause is internal.
		if de.Msg != "" {
			return bus.ErrStepFailed.New("%s: %s: %s", step, de.Code, de.Msg)
		}
		return bus.ErrStepFailed.New("%s: %s", step, de.Code)
	case errors.As(err, &je):
		return bus.ErrStepFailed.New("%s: %s", step, je.Error())
	}
	return fmt.Errorf("%s: %w", step, err)
}

// needContent fails a step that has no payload to work on (a route test
// without content).
func needContent(step string, m *bus.Message, replace bool) error {
	if m.Open == nil {
		return bus.ErrStepFailed.New("%s: the message has no content", step)
	}
	if replace && m.Replace == nil {
		return fmt.Errorf("%s: the payload of this message cannot be replaced", step)
	}
	return nil
}

// readAll reads the payload, refusing more than max bytes.
func readAll(step string, m *bus.Message, max int64) ([]byte, error) {
	rc, err := m.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: opening content: %w", step, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading content: %w", step, err)
	}
	if int64(len(b)) > max {
		return nil, bus.ErrStepFailed.New("%s: content is larger than %d bytes", step, max)
	}
	return b, nil
}

// replaceWith streams what write produces into the message's payload with
// media type application/xml. An error of write wins over the error the
// pipe gives Replace.
func replaceWith(ctx context.Context, step string, m *bus.Message, write func(io.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	rerr := m.Replace(ctx, "application/xml", pr)
	pr.CloseWithError(errors.New("replace ended"))
	werr := <-done
	var je *jsonError
	var ee *edxml.Error
	if werr != nil && (errors.As(werr, &je) || errors.As(werr, &ee)) {
		return contentFailure(step, werr)
	}
	if rerr != nil {
		var be *bus.Error
		if errors.As(rerr, &be) {
			return rerr
		}
		return fmt.Errorf("%s: replacing content: %w", step, rerr)
	}
	if werr != nil {
		return fmt.Errorf("%s: writing content: %w", step, werr)
	}
	return nil
}
