package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/store"
)

// Formats of Write.
var Formats = []string{"table", "csv", "xlsx"}

// Layout texts of the province's reports.
const (
	Issuer = "UBND TỈNH TUYÊN QUANG"
	Nation = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
	Motto  = "Độc lập - Tự do - Hạnh phúc"
	Title  = "BÁO CÁO THỐNG KÊ TRAO ĐỔI DỮ LIỆU QUA NỀN TẢNG LGSP"
)

var byHeading = map[string]string{"unit": "Đơn vị", "system": "Hệ thống", "route": "Tuyến", "type": "Loại dữ liệu"}

// Headings returns the column headings of r (Vietnamese).
func Headings(r Report) []string {
	h := []string{"STT"}
	if r.Query.Every != "" {
		h = append(h, "Kỳ")
	}
	h = append(h, byHeading[r.Query.By])
	if r.Query.By == "system" {
		h = append(h, "Đơn vị")
	}
	return append(h, "Văn bản gửi", "Văn bản nhận", "Đã xác nhận", "Bị từ chối/lỗi", "Quá hạn", "Dung lượng (byte)", "Thời gian xác nhận p50", "Thời gian xác nhận p95")
}

// Period is the period line: "Từ ngày 01/01/2026 đến ngày 31/12/2026".
func Period(r Report) string {
	return "Từ ngày " + r.Query.From.In(store.StatsZone).Format("02/01/2006") + " đến ngày " + r.Query.To.In(store.StatsZone).Format("02/01/2006")
}

// cells returns one line's cells: numbers as int64, the rest as strings.
func cells(r Report, n int, l Line) []any {
	c := []any{}
	if n > 0 {
		c = append(c, int64(n))
	} else {
		c = append(c, "")
	}
	if r.Query.Every != "" {
		c = append(c, l.Period)
	}
	c = append(c, l.Key)
	if r.Query.By == "system" {
		c = append(c, l.Unit)
	}
	return append(c, l.Sent, l.Received, l.Confirmed, l.Failed, l.Expired, l.Bytes, dur(l.P50), dur(l.P95))
}

// dur shows a time bound as "≤ 2m0s" ("" without confirmations).
func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return "≤ " + d.String()
}

func text(v any) string {
	if n, ok := v.(int64); ok {
		return strconv.FormatInt(n, 10)
	}
	return v.(string)
}

// Write writes r in format to w.
func Write(w io.Writer, r Report, format string) error {
	switch format {
	case "table":
		return writeTable(w, r)
	case "csv":
		return writeCSV(w, r)
	case "xlsx":
		return writeXLSX(w, r)
	}
	return bus.ErrBadRequest.New("format must be one of table, csv, xlsx")
}

func rowsOf(r Report) [][]any {
	var out [][]any
	for i, l := range r.Lines {
		out = append(out, cells(r, i+1, l))
	}
	return append(out, cells(r, 0, r.Total))
}

func writeTable(w io.Writer, r Report) error {
	fmt.Fprintf(w, "%s\n%s\n\n", Title, Period(r))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(Headings(r), "\t")+"\t")
	for _, row := range rowsOf(r) {
		var s []string
		for _, c := range row {
			s = append(s, text(c))
		}
		fmt.Fprintln(tw, strings.Join(s, "\t")+"\t")
	}
	return tw.Flush()
}

func writeCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{Title})
	_ = cw.Write([]string{Period(r)})
	_ = cw.Write(Headings(r))
	for _, row := range rowsOf(r) {
		var s []string
		for _, c := range row {
			s = append(s, csvSafe(text(c)))
		}
		_ = cw.Write(s)
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (codes and
// unit names come from the registry, which admins type).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeXLSX(w io.Writer, r Report) error {
	f := excelize.NewFile()
	defer f.Close()
	sh := "Báo cáo"
	if err := f.SetSheetName("Sheet1", sh); err != nil {
		return err
	}
	heads := Headings(r)
	last, _ := excelize.ColumnNumberToName(len(heads))
	bold, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Horizontal: "center", WrapText: true}})
	title, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}, Alignment: &excelize.Alignment{Horizontal: "center"}})
	center, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Italic: true}, Alignment: &excelize.Alignment{Horizontal: "center"}})
	border := []excelize.Border{{Type: "left", Style: 1}, {Type: "right", Style: 1}, {Type: "top", Style: 1}, {Type: "bottom", Style: 1}}
	head, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Border: border, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}, Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}})
	cell, _ := f.NewStyle(&excelize.Style{Border: border, NumFmt: 3})
	total, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Border: border, NumFmt: 3})
	mid, _ := excelize.ColumnNumberToName(len(heads)/2 + 1)
	put := func(c string, v any, style int) {
		_ = f.SetCellValue(sh, c, v)
		_ = f.SetCellStyle(sh, c, c, style)
	}
	// The usual header: issuing body on the left, national motto on the right.
	put("A1", Issuer, bold)
	_ = f.MergeCell(sh, "A1", "C1")
	put(mid+"1", Nation, bold)
	_ = f.MergeCell(sh, mid+"1", last+"1")
	put(mid+"2", Motto, bold)
	_ = f.MergeCell(sh, mid+"2", last+"2")
	put("A4", Title, title)
	_ = f.MergeCell(sh, "A4", last+"4")
	put("A5", Period(r), center)
	_ = f.MergeCell(sh, "A5", last+"5")
	const first = 7
	for i, h := range heads {
		c, _ := excelize.CoordinatesToCellName(i+1, first)
		put(c, h, head)
	}
	rows := rowsOf(r)
	for j, row := range rows {
		style := cell
		if j == len(rows)-1 {
			style = total
		}
		for i, v := range row {
			c, _ := excelize.CoordinatesToCellName(i+1, first+1+j)
			put(c, v, style)
		}
	}
	// The totals line names itself in the grouping column.
	for i := 2; i < len(heads)+1; i++ {
		_ = f.SetColWidth(sh, colName(i), colName(i), 18)
	}
	_ = f.SetColWidth(sh, "A", "A", 6)
	_, err := f.WriteTo(w)
	return err
}

func colName(i int) string { n, _ := excelize.ColumnNumberToName(i); return n }
