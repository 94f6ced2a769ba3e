package report_test

import (
	"bytes"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tuyenquang/lgsp/bus/report"
	"github.com/tuyenquang/lgsp/bus/store"
)

var ict = store.StatsZone

const (
	src  = "000.00.01.H60"
	dstA = "000.00.02.H60"
	dstB = "000.00.03.H60"
)

// finished runs one exchange through the store to its purge: created at
// `at`, confirmed by each of confirm after wait, rejected by each of reject.
func finished(t *testing.T, s store.Store, id string, at time.Time, size int64, wait time.Duration, confirm, reject []string) {
	t.Helper()
	ctx := t.Context()
	e := store.Exchange{ID: id, Source: src, DataType: "edoc", Status: store.ExchangeRequested, MaxBytes: 1 << 20, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(48 * time.Hour)}
	for _, c := range append(append([]string{}, confirm...), reject...) {
		e.Recipients = append(e.Recipients, store.Recipient{ExchangeID: id, Code: c, Status: store.RecipientPending})
	}
	must(t, s.CreateExchange(ctx, e))
	must(t, s.AcceptExchange(ctx, store.Accept{ExchangeID: id, Size: size, SHA256: "ab", Route: "van-ban", At: at}))
	if _, err := s.ClaimDue(ctx, at, 100, "n1", nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range confirm {
		must(t, s.Transition(ctx, store.Transition{ExchangeID: id, Recipient: c, From: []string{store.RecipientNotified}, To: store.RecipientConfirmed, At: at.Add(wait)}))
	}
	for _, c := range reject {
		must(t, s.Transition(ctx, store.Transition{ExchangeID: id, Recipient: c, From: []string{store.RecipientNotified}, To: store.RecipientRejected, At: at.Add(wait)}))
	}
	must(t, s.Purge(ctx, id, store.ExchangeCompleted, "", at.Add(wait)))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sample stores three finished exchanges over two months.
func sample(t *testing.T) store.Store {
	s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "lgsp.db"))
	must(t, err)
	t.Cleanup(func() { s.Close() })
	for _, sys := range []store.System{{Code: src, Unit: "Sở Nội vụ"}, {Code: dstA, Unit: "UBND huyện Na Hang"}, {Code: dstB, Unit: "UBND huyện Lâm Bình"}} {
		sys.Name = sys.Code
		must(t, s.CreateSystem(t.Context(), sys))
	}
	jan := time.Date(2026, 1, 10, 9, 0, 0, 0, ict)
	finished(t, s, "ex_1", jan, 1000, 90*time.Second, []string{dstA, dstB}, nil)
	finished(t, s, "ex_2", jan.AddDate(0, 0, 1), 500, 10*time.Minute, []string{dstA}, []string{dstB})
	finished(t, s, "ex_3", jan.AddDate(0, 1, 0), 200, 3*time.Hour, []string{dstB}, nil)
	return s
}

func build(t *testing.T, s store.Store, q report.Query) report.Report {
	t.Helper()
	if q.From.IsZero() {
		q.From, q.To = time.Date(2026, 1, 1, 0, 0, 0, 0, ict), time.Date(2026, 12, 31, 0, 0, 0, 0, ict)
	}
	r, err := report.Build(t.Context(), s, q)
	must(t, err)
	return r
}

func TestReportByUnit(t *testing.T) {
	r := build(t, sample(t), report.Query{By: "unit"})
	if len(r.Lines) != 3 {
		t.Fatalf("lines = %+v", r.Lines)
	}
	var sender, naHang report.Line
	for _, l := range r.Lines {
		switch l.Key {
		case "Sở Nội vụ":
			sender = l
		case "UBND huyện Na Hang":
			naHang = l
		}
	}
	// ex_1 → 2 documents, ex_2 → 2, ex_3 → 1; one rejection.
	if sender.Sent != 5 || sender.Confirmed != 4 || sender.Failed != 1 || sender.Bytes != 2*1000+500+200 || sender.Received != 0 {
		t.Fatalf("sender line = %+v", sender)
	}
	if naHang.Received != 2 || naHang.Sent != 0 {
		t.Fatalf("Na Hang line = %+v", naHang)
	}
	// Confirmation times: 90 s, 90 s, 10 min, 3 h → p50 ≤ 2 min, p95 ≤ 4 h.
	if sender.P50 != 2*time.Minute || sender.P95 != 4*time.Hour {
		t.Fatalf("sender p50/p95 = %v/%v", sender.P50, sender.P95)
	}
	if r.Total.Sent != 5 || r.Total.Received != 5 || r.Total.Confirmed != 4 {
		t.Fatalf("total = %+v", r.Total)
	}
}

func TestReportByPeriodAndUnitFilter(t *testing.T) {
	s := sample(t)
	r := build(t, s, report.Query{By: "route", Every: "month"})
	if len(r.Lines) != 2 || r.Lines[0].Period != "2026-01" || r.Lines[0].Sent != 4 || r.Lines[1].Period != "2026-02" || r.Lines[1].Sent != 1 {
		t.Fatalf("by month = %+v", r.Lines)
	}
	q := build(t, s, report.Query{By: "system", Every: "quarter", Unit: "UBND huyện Lâm Bình"})
	if len(q.Lines) != 1 || q.Lines[0].Key != dstB || q.Lines[0].Period != "2026-Q1" || q.Lines[0].Received != 3 || q.Total.Sent != 0 {
		t.Fatalf("one unit by quarter = %+v", q.Lines)
	}
	// A period outside the traffic has no lines and zero totals.
	empty := build(t, s, report.Query{By: "type", From: time.Date(2025, 1, 1, 0, 0, 0, 0, ict), To: time.Date(2025, 12, 31, 0, 0, 0, 0, ict)})
	if len(empty.Lines) != 0 || empty.Total.Sent != 0 {
		t.Fatalf("empty period = %+v", empty)
	}
}

func TestReportRefusesBadQueries(t *testing.T) {
	s := sample(t)
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, ict)
	for _, q := range []report.Query{
		{By: "title", From: day, To: day},
		{By: "unit", Every: "week", From: day, To: day},
		{By: "unit", From: day, To: day.AddDate(0, 0, -1)},
		{By: "unit"},
	} {
		if _, err := report.Build(t.Context(), s, q); err == nil || !strings.Contains(err.Error(), "request.invalid") {
			t.Fatalf("query %+v: err = %v", q, err)
		}
	}
}

func TestReportCSVAndTable(t *testing.T) {
	r := build(t, sample(t), report.Query{By: "system"})
	var b bytes.Buffer
	must(t, report.Write(&b, r, "csv"))
	rd := csv.NewReader(&b)
	rd.FieldsPerRecord = -1 // the title and period lines have one field
	recs, err := rd.ReadAll()
	must(t, err)
	if recs[0][0] != report.Title || !strings.HasPrefix(recs[1][0], "Từ ngày 01/01/2026 đến ngày 31/12/2026") || recs[2][1] != "Hệ thống" || recs[2][2] != "Đơn vị" {
		t.Fatalf("csv head = %q", recs[:3])
	}
	last := recs[len(recs)-1]
	if last[1] != "Tổng cộng" || last[3] != "5" || last[4] != "5" {
		t.Fatalf("csv totals = %q", last)
	}
	b.Reset()
	must(t, report.Write(&b, r, "table"))
	if !strings.Contains(b.String(), "Tổng cộng") || !strings.Contains(b.String(), dstA) {
		t.Fatalf("table = %s", b.String())
	}
	if err := report.Write(&b, r, "pdf"); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestReportXLSX(t *testing.T) {
	r := build(t, sample(t), report.Query{By: "unit"})
	var b bytes.Buffer
	must(t, report.Write(&b, r, "xlsx"))
	f, err := excelize.OpenReader(&b)
	must(t, err)
	defer f.Close()
	rows, err := f.GetRows("Báo cáo")
	must(t, err)
	if rows[0][0] != report.Issuer || rows[3][0] != report.Title || !strings.HasPrefix(rows[4][0], "Từ ngày") {
		t.Fatalf("xlsx head = %q", rows[:5])
	}
	if rows[6][1] != "Đơn vị" || rows[6][2] != "Văn bản gửi" {
		t.Fatalf("xlsx headings = %q", rows[6])
	}
	total := rows[len(rows)-1]
	if total[1] != "Tổng cộng" || total[2] != "5" || total[3] != "5" {
		t.Fatalf("xlsx totals = %q", total)
	}
	if len(rows) != 7+len(r.Lines)+1 {
		t.Fatalf("xlsx has %d rows for %d lines", len(rows), len(r.Lines))
	}
}

func TestCSVCellsAreNotFormulas(t *testing.T) {
	s := sample(t)
	must(t, s.UpdateSystem(t.Context(), store.System{Code: src, Name: "x", Unit: "=HYPERLINK(\"x\")", Status: store.SystemActive}))
	finished(t, s, "ex_4", time.Date(2026, 3, 1, 9, 0, 0, 0, ict), 1, time.Second, []string{dstA}, nil)
	r := build(t, s, report.Query{By: "unit"})
	var b bytes.Buffer
	must(t, report.Write(&b, r, "csv"))
	if strings.Contains(b.String(), "\n,=HYPERLINK") || !strings.Contains(b.String(), "'=HYPERLINK") {
		t.Fatalf("csv = %s", b.String())
	}
}
