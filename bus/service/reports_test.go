package service

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/report"
)

// fixedTexts are the parsers' own messages: a value found in them is not
// an echo of the input.
const fixedTexts = "from must be a date yyyy-mm-dd to must be a date yyyy-mm-dd by must be one of unit, system, route, type " +
	"every must be one of day, month, quarter, year from and to must be dates, from not after to a report covers at most 20 years"

// checkQuery asserts the contract of the query parsers on outside input:
// either a coded request.invalid refusal that does not quote the input, or
// a query within its bounds.
func checkQuery(t *testing.T, raw string) {
	r := httptest.NewRequest("GET", "/admin/v1/reports", nil)
	r.URL.RawQuery = raw
	q, err := ReportQuery(r)
	if err != nil {
		var be *bus.Error
		if !errors.As(err, &be) || be.Def != bus.ErrBadRequest {
			t.Fatalf("ReportQuery(%q): %v is not request.invalid", raw, err)
		}
		for _, v := range r.URL.Query() {
			for _, s := range v {
				if len(s) > 3 && strings.Contains(be.Detail, s) && !strings.Contains(fixedTexts, s) {
					t.Fatalf("ReportQuery(%q) quotes its input: %s", raw, be.Detail)
				}
			}
		}
	} else if q.Validate() != nil || q.To.Before(q.From) {
		t.Fatalf("ReportQuery(%q) = %+v, not valid", raw, q)
	}
	f, err := activityFilter(r)
	if err == nil && (f.Limit < 1 || f.Limit > 1000) {
		t.Fatalf("activityFilter(%q) limit %d", raw, f.Limit)
	}
}

func TestReportQuery(t *testing.T) {
	good := "from=2026-01-01&to=2026-12-31&by=system&every=quarter"
	r := httptest.NewRequest("GET", "/admin/v1/reports?"+good, nil)
	q, err := ReportQuery(r)
	if err != nil || q.By != "system" || q.Every != "quarter" || q.From.Year() != 2026 || q.To.Month() != 12 {
		t.Fatalf("ReportQuery(%s) = %+v, %v", good, q, err)
	}
	for _, raw := range []string{"", "from=2026-01-01", "from=2026-02-30&to=2026-03-01", "from=2026-01-01&to=2025-01-01",
		"from=2026-01-01&to=2026-01-02&by=title", "from=2026-01-01&to=2026-01-02&every=week", "from=1900-01-01&to=2100-01-01"} {
		r := httptest.NewRequest("GET", "/admin/v1/reports?"+strings.ReplaceAll(raw, " ", "%20"), nil)
		if _, err := ReportQuery(r); err == nil {
			t.Fatalf("ReportQuery(%s) accepted", raw)
		}
		checkQuery(t, raw)
	}
	for _, raw := range []string{"limit=0", "limit=1001", "limit=x", "from=yesterday"} {
		r := httptest.NewRequest("GET", "/v1/activity?"+raw, nil)
		if _, err := activityFilter(r); err == nil {
			t.Fatalf("activityFilter(%s) accepted", raw)
		}
	}
}

func FuzzReportQuery(f *testing.F) {
	for _, s := range []string{"from=2026-01-01&to=2026-12-31&by=unit&every=month", "from=2026-01-01&to=2026-01-01&limit=5&errors=true", "%zz", "from=9999-12-31&to=9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkQuery(t, raw)
	})
}

// BenchmarkReportQueryWorstCase parses the largest query a request line
// can carry (limits.max_header_bytes, 64 KiB) of repeated parameters.
func BenchmarkReportQueryWorstCase(b *testing.B) {
	raw := strings.Repeat("by=unit&", 64<<10/8)
	r := httptest.NewRequest("GET", "/admin/v1/reports", nil)
	r.URL.RawQuery = raw
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ReportQuery(r)
	}
	_ = report.Bys
}
