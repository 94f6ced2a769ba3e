package route

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tuyenquang/lgsp/bus"
)

// Problem is one finding of the linter at a position in a route file.
type Problem struct {
	File string // as given to LoadDir or Parse, relative to the working directory
	Line int    // 1-based; 0 when the problem concerns the whole file
	Col  int    // 1-based; 0 when unknown (YAML syntax errors carry only a line)
	Msg  string
}

// String formats the problem as "file:line:col: message", leaving out the
// column or the line when unknown.
func (p Problem) String() string {
	switch {
	case p.Line <= 0:
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	case p.Col <= 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
	}
}

// Problems is every problem found in a set of route files. As an error it
// prints one problem per line and unwraps to a bus.ErrRouteInvalid error,
// so that bus.CodeOf reports route.invalid.
type Problems []Problem

// Error returns the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the catalogue error for invalid route files, whose detail
// counts the problems and quotes the first.
func (ps Problems) Unwrap() error {
	if len(ps) == 0 {
		return nil
	}
	return bus.ErrRouteInvalid.New("%d problem(s); first: %s", len(ps), ps[0])
}

// sort orders problems by file, line and column, keeping the order of
// discovery among equals.
func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}
