package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus/edxml"
	"github.com/tuyenquang/lgsp/bus/transform"
	"github.com/tuyenquang/lgsp/wsdl/gen/lgspedoc"
)

// soapResult is the RESULT line of a soap run.
type soapResult struct {
	Mode         string         `json:"mode"`
	Label        string         `json:"label,omitempty"`
	Conns        int            `json:"conns"`
	Rate         float64        `json:"offered_rate_per_s,omitempty"` // -rate: fixed offered rate
	Offered      int64          `json:"offered,omitempty"`            // calls scheduled within the run (-rate)
	ServedPct    float64        `json:"served_pct,omitempty"`         // good answers / offered (-rate)
	Late         int64          `json:"late,omitempty"`               // calls sent more than 10 ms after their scheduled time (-rate)
	Systems      int            `json:"systems"`
	PacketBytes  int            `json:"packet_bytes"`
	WallS        float64        `json:"wall_s"`
	Requests     int64          `json:"requests"`
	RequestsPerS float64        `json:"requests_per_s"`
	Errors       int            `json:"errors"`
	ErrorsByCode map[string]int `json:"errors_by_code"`
	Served       int            `json:"conns_served"`
	Steps        []stepStats    `json:"steps"`
	Server       *procUsage     `json:"server,omitempty"`
	DB           *procUsage     `json:"db,omitempty"`
	Loadgen      *procUsage     `json:"loadgen,omitempty"`
	Host         *hostUsage     `json:"host,omitempty"`
	Pass         bool           `json:"pass"`
}

// runSoap drives LGSP's SOAP document-exchange service (adapters/qlvb) as
// legacy QLVB systems do: -conns workers, each on a TCP connection of its
// own, loop sendEdoc with a UsernameToken digest, each sending an edXML
// document packet of about -size bytes to the next system. Every call
// creates a real exchange (route, grants, encrypted chunks, ledger).
func runSoap(ctx context.Context, cfg config, systems []system, out io.Writer) error {
	packets, err := soapPackets(systems, cfg.Size)
	if err != nil {
		return err
	}
	endpoint := strings.TrimRight(cfg.URL, "/") + "/soap/edoc"
	if cfg.Rate > 0 {
		fmt.Fprintf(out, "soap: %d connections, each sending sendEdoc (SOAP 1.1, UsernameToken digest, %d-byte edXML packets) to %s every %s: %.0f calls/s offered for %s (open loop; latency from the scheduled time)\n",
			cfg.Conns, len(packets[0]), endpoint, ratePeriod(cfg), cfg.Rate, cfg.Duration)
	} else {
		fmt.Fprintf(out, "soap: %d connections looping sendEdoc (SOAP 1.1, UsernameToken digest, %d-byte edXML packets) to %s for %s\n", cfg.Conns, len(packets[0]), endpoint, cfg.Duration)
	}
	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	var reqs, offered, late atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	tallies := make([]*tally, cfg.Conns)
	var wg sync.WaitGroup
	for i := range tallies {
		t := newTally()
		tallies[i] = t
		sys := systems[i%len(systems)]
		body := packets[i%len(systems)]
		if cfg.Rate > 0 {
			sched := schedule{start: start.Add(ratePeriod(cfg) * time.Duration(i) / time.Duration(cfg.Conns)), period: ratePeriod(cfg), end: start.Add(cfg.Duration)}
			wg.Go(func() { soapRateConn(ctx, endpoint, sys, body, sched, t, &reqs, &offered, &late) })
			continue
		}
		wg.Go(func() { soapConn(ctx, runCtx, endpoint, sys, body, t, &reqs) })
	}
	wg.Wait()
	wall := time.Since(start)
	usage := meters.finish()
	total, served := newTally(), 0
	for _, t := range tallies {
		total.merge(t)
		if t.done > 0 {
			served++
		}
	}
	res := soapResult{
		Mode: "soap", Label: cfg.Label, Conns: cfg.Conns, Systems: len(systems), PacketBytes: len(packets[0]), WallS: round2(wall.Seconds()),
		Requests: reqs.Load(), RequestsPerS: round1(float64(reqs.Load()) / wall.Seconds()),
		Errors: total.errorCount(), ErrorsByCode: total.errs, Served: served,
		Steps:  summarizeAll(total, []string{"sendEdoc"}),
		Server: usage.server, DB: usage.db, Loadgen: usage.self, Host: usage.host,
	}
	res.Pass = res.Errors == 0 && served == cfg.Conns && maxLatency(res.Steps) < float64(requestTimeout/time.Millisecond)
	if cfg.Rate > 0 {
		res.Rate, res.Offered, res.Late = cfg.Rate, offered.Load(), late.Load()
		res.ServedPct = round2(100 * float64(total.done) / float64(max(res.Offered, 1)))
		// Issue #13: every call served, p99 < 1 s.
		p99 := 0.0
		if len(res.Steps) > 0 {
			p99 = res.Steps[0].P99
		}
		res.Pass = res.Pass && int64(total.done) == res.Offered && p99 < 1000
		fmt.Fprintf(out, "\noffered %d calls at %.0f/s · served %d (%.2f %%) · sent late (> 10 ms after schedule) %d\n", res.Offered, cfg.Rate, total.done, res.ServedPct, res.Late)
	}
	fmt.Fprintf(out, "\nwall %.2f s · %d connections served · %d sendEdoc calls (%.1f/s) · %d errors\n\n", wall.Seconds(), served, res.Requests, res.RequestsPerS, res.Errors)
	printSteps(out, res.Steps)
	fmt.Fprintln(out)
	printErrors(out, total)
	usage.print(out)
	return verdict(out, res.Pass, res)
}

func soapConn(ctx, runCtx context.Context, endpoint string, sys system, edxmlB64 []byte, t *tally, reqs *atomic.Int64) {
	tr := singleConnTransport()
	defer tr.CloseIdleConnections()
	c, err := soap.NewClient(endpoint, soap.WithVersion(soap.V11), soap.WithTimeout(requestTimeout),
		soap.WithTransport(tr), soap.WithUsernameToken(sys.AccessKey, sys.SecretKey, true))
	if err != nil {
		t.fail("sendEdoc", err)
		return
	}
	for runCtx.Err() == nil {
		sendEdoc(ctx, c, edxmlB64, time.Now(), t, reqs)
	}
}

// sendEdoc makes one sendEdoc call and tallies it, its latency counted
// from since.
func sendEdoc(ctx context.Context, c *soap.Client, edxmlB64 []byte, since time.Time, t *tally, reqs *atomic.Int64) {
	var resp lgspedoc.SendEdocResponse
	err := c.Call(ctx, lgspedoc.ActionSendEdoc, &lgspedoc.SendEdoc{Edxml: edxmlB64}, &resp)
	reqs.Add(1)
	if err == nil && resp.DocId == "" {
		err = fmt.Errorf("sendEdoc answered without a docId")
	}
	if err != nil {
		t.fail("sendEdoc", err)
		return
	}
	t.add("sendEdoc", time.Since(since))
	t.done++
}

// soapRateConn sends sendEdoc over a connection of its own at the times
// sched says, whatever the answers (open loop, as pollConn): a call whose
// turn comes while the previous one is unanswered goes as soon as that one
// is answered, and its latency counts from its scheduled time (no
// coordinated omission).
func soapRateConn(ctx context.Context, endpoint string, sys system, edxmlB64 []byte, sched schedule, t *tally, reqs, offered, late *atomic.Int64) {
	tr := singleConnTransport()
	defer tr.CloseIdleConnections()
	c, err := soap.NewClient(endpoint, soap.WithVersion(soap.V11), soap.WithTimeout(requestTimeout),
		soap.WithTransport(tr), soap.WithUsernameToken(sys.AccessKey, sys.SecretKey, true))
	if err != nil {
		t.fail("sendEdoc", err)
		return
	}
	sched.run(ctx, offered, late, func(due time.Time) { sendEdoc(ctx, c, edxmlB64, due, t, reqs) })
}

// soapPackets builds, for each system, an edXML document packet to the
// next system with an attachment making it about size bytes, base64
// encoded as the generated type's []byte field carries it.
func soapPackets(systems []system, size int) ([][]byte, error) {
	att := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("Nội dung văn bản thử tải. "), max(1, size*3/4/27)))
	out := make([][]byte, len(systems))
	for i, s := range systems {
		to := systems[(i+1)%len(systems)].Code
		js := `{"from": {"organ_id": "` + s.Code + `", "organ_name": "Hệ thống thử tải"},
		  "to": [{"organ_id": "` + to + `", "organ_name": "Hệ thống thử tải"}],
		  "code": {"number": "` + fmt.Sprint(i+1) + `", "notation": "TT-LGSP"},
		  "promulgation": {"place": "Tuyên Quang", "date": "2026-11-26"},
		  "type": {"code": "1", "name": "Công văn"},
		  "signer": {"position": "Giám đốc", "full_name": "Nguyễn Văn A"},
		  "files": [{"name": "cv.txt", "media_type": "text/plain", "content_base64": "` + att + `"}]}`
		p, err := transform.PacketFromJSON(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(js)), nil },
			transform.Meta{Source: s.Code, Recipients: []string{to}, Title: "Công văn thử tải qua SOAP", Now: time.Now()})
		if err != nil {
			return nil, fmt.Errorf("building the load packet: %w", err)
		}
		var b bytes.Buffer
		if err := edxml.Build(&b, p); err != nil {
			return nil, err
		}
		out[i] = []byte(base64.StdEncoding.EncodeToString(b.Bytes()))
	}
	return out, nil
}
