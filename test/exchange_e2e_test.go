package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/tuyenquang/lgsp/adapters/rest"
	"github.com/tuyenquang/lgsp/bus/exchange"
	"github.com/tuyenquang/lgsp/bus/notify"
)

func TestExchangeSevenStepsSQLite(t *testing.T)  { testSevenSteps(t, "sqlite") }
func TestExchangeSevenStepsMariaDB(t *testing.T) { testSevenSteps(t, "mysql") }

func wantAPIError(t *testing.T, err error, code string) {
	t.Helper()
	var ae *rest.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if ae.Code != code {
		t.Fatalf("want error code %s, got %s (%v)", code, ae.Code, err)
	}
	if ae.MessageVI == "" || ae.MessageEN == "" {
		t.Fatalf("error %s lacks a vi or en message: %+v", code, ae.Problem)
	}
}

// testSevenSteps runs F1–F7 between a sender and two recipients over real
// HTTP, watches the live notification arrive, and then proves zero retention:
// the payload's marker is in no byte of the database files, logs or temp
// dirs, and no row holds a chunk or key of the exchange.
func testSevenSteps(t *testing.T, dialect string) {
	n := startNode(t, dialect)
	ctx := context.Background()
	a := n.system(t, "000.00.00.H60", "UBND tỉnh")
	b := n.system(t, "000.00.01.H60", "Văn phòng UBND tỉnh")
	c := n.system(t, "000.00.02.H60", "Sở Tài chính")
	d := n.system(t, "000.00.03.H60", "Hệ thống ngoài cuộc")
	n.grant(t, "exchange", "000.00.00.H60", "000.00.*.H60", "edoc")

	// B listens live before anything is sent (C5).
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	live := make(chan notify.Event, 64)
	go b.Events(sctx, 0, func(e notify.Event) error { live <- e; return nil })
	eventually(t, "subscriber registered", func() (bool, error) { return n.svc.Handler() != nil && hubCount(n) == 1, nil })

	marker := "LGSP-MARKER-" + randHex(12)
	payload := bytes.Repeat([]byte("Nội dung công văn mật. "), 3000) // ≈ 70 KB, several chunks
	payload = append(payload, []byte(marker)...)
	payload = append(payload, bytes.Repeat([]byte{0x42}, 300_000)...) // > one 256 KiB chunk
	sum := sha256.Sum256(payload)
	sumHex := hex.EncodeToString(sum[:])

	// F1
	cr, err := a.Connect(ctx)
	if err != nil || cr.System != "000.00.00.H60" || cr.SessionID == "" {
		t.Fatalf("connect: %+v %v", cr, err)
	}
	// F2
	sp, err := a.Request(ctx, exchange.Request{Recipients: []string{"000.00.01.H60", "000.00.02.H60"}, Title: "Công văn số 12/UBND-VP", DataType: "edoc", Importance: "urgent", MediaType: "application/octet-stream", Size: int64(len(payload)), SHA256: sumHex})
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if sp.MaxBytes <= 0 || sp.ExchangeID == "" || sp.Route != "van-ban" {
		t.Fatalf("space: %+v", sp)
	}
	id := sp.ExchangeID
	// F3 in two parts, as a resumed upload does; a part with a wrong hash
	// is refused and changes nothing.
	half := int64(len(payload) / 2)
	part1 := payload[:half]
	bad := sha256.Sum256([]byte("something else"))
	if _, err := a.Upload(ctx, id, 0, bytes.NewReader(part1), half, hex.EncodeToString(bad[:])); err == nil {
		t.Fatal("upload with a wrong body hash was accepted")
	} else {
		wantAPIError(t, err, "auth.body_hash")
	}
	if off, err := a.UploadOffset(ctx, id); err != nil || off != 0 {
		t.Fatalf("offset after refused part = %d, %v; want 0", off, err)
	}
	if _, err := a.UploadBytes(ctx, id, part1); err != nil {
		t.Fatalf("upload part 1: %v", err)
	}
	_, err = a.Upload(ctx, id, 0, bytes.NewReader(part1), half, hex.EncodeToString(sha(part1)))
	wantAPIError(t, err, "exchange.upload_offset")
	off, err := a.UploadOffset(ctx, id)
	if err != nil || off != half {
		t.Fatalf("offset = %d, %v; want %d", off, err, half)
	}
	rest2 := payload[off:]
	if got, err := a.Upload(ctx, id, off, bytes.NewReader(rest2), int64(len(rest2)), hex.EncodeToString(sha(rest2))); err != nil || got != int64(len(payload)) {
		t.Fatalf("upload part 2: %d %v", got, err)
	}
	// F3 end → F4
	v, err := a.Complete(ctx, id, exchange.CompleteRequest{SHA256: sumHex, Policy: []byte(`{"note":"xử lý trong ngày"}`)})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	if v.Status != "accepted" || v.Size != int64(len(payload)) || v.SHA256 != sumHex {
		t.Fatalf("after complete: %+v", v)
	}
	// F4: B is told in real time.
	select {
	case e := <-live:
		for e.Kind != "notified" || e.ExchangeID != id {
			e = <-live
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no live notification within 10s")
	}
	// An outsider sees nothing.
	_, err = d.Status(ctx, id)
	wantAPIError(t, err, "exchange.not_found")
	_, err = d.Ready(ctx, id)
	wantAPIError(t, err, "exchange.not_found")
	// F5
	items, err := b.Inbox(ctx)
	if err != nil || len(items) != 1 || items[0].ExchangeID != id || items[0].Title != "Công văn số 12/UBND-VP" {
		t.Fatalf("inbox: %+v %v", items, err)
	}
	// Download before ready is refused.
	_, err = b.Download(ctx, id, 0, &bytes.Buffer{})
	wantAPIError(t, err, "exchange.state")
	// F6
	dl, err := b.Ready(ctx, id)
	if err != nil || dl.Size != int64(len(payload)) || dl.SHA256 != sumHex {
		t.Fatalf("ready: %+v %v", dl, err)
	}
	// Confirming receipt before downloading is refused.
	_, err = b.Confirm(ctx, id, "received", "")
	wantAPIError(t, err, "exchange.state")
	// F7: an interrupted download resumes with a range.
	var tail bytes.Buffer
	if _, err := b.Download(ctx, id, 1000, &tail); err != nil || !bytes.Equal(tail.Bytes(), payload[1000:]) {
		t.Fatalf("range download: %d bytes, %v", tail.Len(), err)
	}
	var got bytes.Buffer
	if _, err := b.Download(ctx, id, 0, &got); err != nil || !bytes.Equal(got.Bytes(), payload) {
		t.Fatalf("download: %d bytes, %v", got.Len(), err)
	}
	if _, err := b.Confirm(ctx, id, "received", "đã vào sổ"); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	// The sender can read the status (F7) while C has not answered.
	st, err := a.Status(ctx, id)
	if err != nil || st.Status != "accepted" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if _, err := c.Ready(ctx, id); err != nil {
		t.Fatalf("C ready: %v", err)
	}
	if _, err := c.Confirm(ctx, id, "rejected", "sai địa chỉ"); err != nil {
		t.Fatalf("C reject: %v", err)
	}
	st, err = a.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "completed" || st.PurgedAt.IsZero() {
		t.Fatalf("after all confirmed: status %s purged %v", st.Status, st.PurgedAt)
	}
	status := map[string]string{}
	for _, r := range st.Recipients {
		status[r.Code] = r.Status
	}
	if status["000.00.01.H60"] != "confirmed" || status["000.00.02.H60"] != "rejected" {
		t.Fatalf("recipients: %v", status)
	}
	var kinds []string
	for _, e := range st.Ledger {
		kinds = append(kinds, e.Kind)
	}
	for _, k := range []string{"requested", "uploaded", "accepted", "planned", "notified", "ready", "downloaded", "confirmed", "rejected", "completed", "purged"} {
		if !contains(kinds, k) {
			t.Errorf("ledger lacks %q: %v", k, kinds)
		}
	}
	// The content is gone for everyone.
	_, err = b.Download(ctx, id, 0, &bytes.Buffer{})
	wantAPIError(t, err, "exchange.purged")

	// Zero retention (R2).
	ex, err := n.svc.Store().GetExchange(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ex.WrappedKey != nil {
		t.Error("wrapped data key still stored")
	}
	if idx, err := n.svc.Store().ChunkIndex(ctx, id); err != nil || len(idx) != 0 {
		t.Errorf("chunks still stored: %v %v", idx, err)
	}
	stop()
	needles := markerNeedles(marker)
	if dialect == "sqlite" {
		// Checkpoint-free: scan the db, its WAL and SHM as they are.
		rowsWithExchange(t, "sqlite", filepath.Join(n.dataDir, "lgsp.db"), id)
	} else {
		rowsWithExchange(t, "mysql", strings.TrimPrefix(n.dsn, "mysql://"), id)
		scanMySQL(t, strings.TrimPrefix(n.dsn, "mysql://"), needles)
	}
	for _, dir := range []string{n.dataDir, n.tmpDir} {
		scanDir(t, dir, needles)
	}
	if info, err := os.Stat(n.logFile); err != nil || info.Size() == 0 {
		t.Fatalf("log file missing or empty (%v): the scan would prove nothing", err)
	}
}

// markerNeedles returns the marker and its base64 forms at each of the three
// alignments it can have inside a longer base64 stream.
func markerNeedles(marker string) [][]byte {
	out := [][]byte{[]byte(marker)}
	for shift := 0; shift < 3; shift++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", shift) + marker))
		out = append(out, []byte(enc[4:len(enc)-4]))
	}
	return out
}

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := cryptoRead(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func hubCount(n *node) int {
	resp := httpGetJSON(n.url + "/readyz")
	if v, ok := resp["subscribers"].(float64); ok {
		return int(v)
	}
	return -1
}

// scanDir fails if any file under dir holds one of the needles.
func scanDir(t *testing.T, dir string, needles [][]byte) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, nd := range needles {
			if i := bytes.Index(b, nd); i >= 0 {
				t.Errorf("zero retention broken: %s holds %q at byte %d", p, nd, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scanned %d files under %s", files, dir)
}

// rowsWithExchange fails if a chunk row of the exchange remains or its key is set.
func rowsWithExchange(t *testing.T, driver, dsn, id string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var chunks int
	if err := db.QueryRow("SELECT COUNT(*) FROM chunks WHERE exchange_id = ?", id).Scan(&chunks); err != nil {
		t.Fatal(err)
	}
	var keyLen sql.NullInt64
	if err := db.QueryRow("SELECT LENGTH(wrapped_key) FROM exchanges WHERE id = ?", id).Scan(&keyLen); err != nil {
		t.Fatal(err)
	}
	if chunks != 0 || keyLen.Valid {
		t.Errorf("zero retention broken: %d chunk rows, wrapped key present=%v", chunks, keyLen.Valid)
	}
}

// scanMySQL reads every row of every table and fails if a value holds a needle.
func scanMySQL(t *testing.T, dsn string, needles [][]byte) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SHOW TABLES")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		tables = append(tables, s)
	}
	rows.Close()
	cells := 0
	for _, tb := range tables {
		r, err := db.Query("SELECT * FROM " + tb)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for r.Next() {
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				cells++
				for _, nd := range needles {
					if bytes.Contains(v, nd) {
						t.Errorf("zero retention broken: table %s column %s holds %q", tb, cols[i], nd)
					}
				}
			}
		}
		r.Close()
	}
	if cells == 0 {
		t.Fatal("scanned no cells: the scan would prove nothing")
	}
	t.Logf("scanned %d cells in %d tables", cells, len(tables))
}
