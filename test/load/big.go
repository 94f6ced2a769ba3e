package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"time"

	"github.com/tuyenquang/lgsp/bus/exchange"
)

// bigTimeout bounds the whole big exchange (streaming transfers are exempt
// from the 30 s rule).
const bigTimeout = 10 * time.Minute

// bigResult is the RESULT line of a big run.
type bigResult struct {
	Mode          string      `json:"mode"`
	Label         string      `json:"label,omitempty"`
	Size          int64       `json:"size"`
	SHA256        string      `json:"sha256"`
	HashS         float64     `json:"hash_pass_s"`
	UploadS       float64     `json:"upload_s"`
	UploadMBps    float64     `json:"upload_mb_per_s"`
	CompleteMS    float64     `json:"complete_ms"`
	NotifyMS      float64     `json:"notify_wait_ms"`
	DownloadS     float64     `json:"download_s"`
	DownloadMBps  float64     `json:"download_mb_per_s"`
	Verified      bool        `json:"verified"`
	Server        *procUsage  `json:"server,omitempty"`
	Loadgen       *procUsage  `json:"loadgen,omitempty"`
	GrowthLimitMB float64     `json:"growth_limit_mib"`
	Steps         []stepStats `json:"steps"`
	Pass          bool        `json:"pass"`
}

// growthLimitMiB is the target for the server's RSS growth during a big
// exchange: content is streamed in chunks, never held whole.
const growthLimitMiB = 64

func runBig(ctx context.Context, cfg config, systems []system, out io.Writer) error {
	res := bigResult{Mode: "big", Label: cfg.Label, Size: cfg.BigSize, GrowthLimitMB: growthLimitMiB}
	t0 := time.Now()
	sum, err := genSHA256(cfg.Seed, cfg.BigSize)
	if err != nil {
		return err
	}
	res.SHA256, res.HashS = sum, round2(time.Since(t0).Seconds())
	fmt.Fprintf(out, "big: %d bytes from seed %d, SHA-256 %s (first pass %.2f s)\n", cfg.BigSize, cfg.Seed, sum, res.HashS)

	meters, err := startMeters(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, bigTimeout)
	defer cancel()
	t := newTally()
	res.Verified = bigExchange(ctx, cfg, systems, sum, t, &res) == nil
	usage := meters.finish()
	res.Server, res.Loadgen, res.Steps = usage.server, usage.self, summarizeAll(t, []string{"connect", "request", "upload", "complete", "notify-wait", "ready", "download", "confirm"})
	res.Pass = res.Verified && (res.Server == nil || res.Server.Growth < growthLimitMiB)

	fmt.Fprintf(out, "\nupload   %8.2f s  %8.1f MB/s\ndownload %8.2f s  %8.1f MB/s   content verified: %v\n\n", res.UploadS, res.UploadMBps, res.DownloadS, res.DownloadMBps, res.Verified)
	printSteps(out, res.Steps)
	fmt.Fprintln(out)
	printErrors(out, t)
	usage.print(out)
	if res.Server != nil {
		fmt.Fprintf(out, "server RSS growth (max sampled − start) %.1f MiB, target < %d MiB\n", res.Server.Growth, growthLimitMiB)
	}
	return verdict(out, res.Pass, res)
}

// bigExchange sends the content of cfg.Seed from the first system to the
// second and fetches it back, streaming both ways.
func bigExchange(ctx context.Context, cfg config, systems []system, sum string, t *tally, res *bigResult) error {
	var rt http.RoundTripper = sharedTransport(2)
	src, dst := apiClient(cfg.URL, systems[0], rt, 0), apiClient(cfg.URL, systems[1], rt, 0)
	var id string
	var down *hashCount
	steps := []struct {
		name string
		f    func() error
	}{
		{"connect", func() error { _, err := src.Connect(ctx); return err }},
		{"request", func() error {
			sp, err := src.Request(ctx, exchange.Request{Recipients: []string{systems[1].Code}, Title: "Hồ sơ lưu trữ số hóa dung lượng lớn (thử tải)", DataType: "edoc", MediaType: "application/xml", Size: cfg.BigSize, SHA256: sum})
			id = sp.ExchangeID
			return err
		}},
		{"upload", func() error {
			_, err := src.Upload(ctx, id, 0, newGen(cfg.Seed, cfg.BigSize), cfg.BigSize, sum)
			return err
		}},
		{"complete", func() error {
			_, err := src.Complete(ctx, id, exchange.CompleteRequest{SHA256: sum, MediaType: "application/xml"})
			return err
		}},
		{"notify-wait", func() error { return pollInbox(ctx, dst, id, time.After(time.Minute)) }},
		{"ready", func() error { _, err := dst.Ready(ctx, id); return err }},
		{"download", func() error {
			down = &hashCount{h: sha256.New()}
			if _, err := dst.Download(ctx, id, 0, down); err != nil {
				return err
			}
			if got := hex.EncodeToString(down.h.Sum(nil)); got != sum || down.n != cfg.BigSize {
				return fmt.Errorf("%w: %d bytes, SHA-256 %s", errMismatch, down.n, got)
			}
			return nil
		}},
		{"confirm", func() error {
			_, err := dst.Confirm(ctx, id, "received", "đã nhận đủ (thử tải)")
			return err
		}},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.f(); err != nil {
			t.fail(s.name, err)
			return err
		}
		d := time.Since(start)
		t.add(s.name, d)
		switch s.name {
		case "upload":
			res.UploadS, res.UploadMBps = round2(d.Seconds()), round1(float64(cfg.BigSize)/1e6/d.Seconds())
		case "complete":
			res.CompleteMS = ms(d)
		case "notify-wait":
			res.NotifyMS = ms(d)
		case "download":
			res.DownloadS, res.DownloadMBps = round2(d.Seconds()), round1(float64(cfg.BigSize)/1e6/d.Seconds())
		}
	}
	return nil
}

// hashCount is an io.Writer that keeps only the SHA-256 and the length of
// what it is given.
type hashCount struct {
	h hash.Hash
	n int64
}

func (w *hashCount) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}
