package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100) // 1 ms … 100 ms
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"nearest rank rounds up", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of four is the last", ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{"tiny p is the min", ms(1, 2, 3, 4), 0.1, 1 * time.Millisecond},
	}
	for _, c := range cases {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("%s: percentile(p=%v) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}

func TestSummarizeDoesNotReorderSamples(t *testing.T) {
	in := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}
	keep := slices.Clone(in)
	s := summarize("x", in)
	if !slices.Equal(in, keep) {
		t.Fatal("summarize sorted the caller's slice")
	}
	if s.Count != 3 || s.P50 != 2 || s.Max != 3 || s.Mean != 2 {
		t.Fatalf("summarize = %+v", s)
	}
}

func TestGenDeterministic(t *testing.T) {
	const size = 3<<20 + 12345
	a, err := genSHA256(42, size)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := genSHA256(42, size)
	if a != b {
		t.Fatalf("same seed, two hashes: %s, %s", a, b)
	}
	if c, _ := genSHA256(43, size); c == a {
		t.Fatal("seeds 42 and 43 give the same content")
	}
	// The bytes do not depend on how the stream is read.
	h := sha256.New()
	g := newGen(42, size)
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 70000)
	var n int64
	for {
		k, err := g.Read(buf[:1+r.IntN(len(buf)-1)])
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != a {
		t.Fatalf("odd-sized reads: %d bytes, hash differs: %v", n, hex.EncodeToString(h.Sum(nil)) != a)
	}
}

func TestGenShape(t *testing.T) {
	for _, size := range []int64{1, 10, int64(len(genHead)), int64(len(genHead) + len(genTail) - 1), 20480} {
		b, err := io.ReadAll(newGen(7, size))
		if err != nil || int64(len(b)) != size {
			t.Fatalf("size %d: read %d bytes, %v", size, len(b), err)
		}
		if !strings.HasPrefix(genHead, string(b[:min(len(b), len(genHead))])) {
			t.Errorf("size %d: does not start with the XML head", size)
		}
	}
	b, _ := io.ReadAll(newGen(7, 20480))
	if !bytes.HasSuffix(b, []byte(genTail)) {
		t.Error("20480 bytes: does not end with the closing elements")
	}
	for i, line := range strings.Split(string(b[len(genHead):len(b)-len(genTail)]), "\n") {
		if len(line) > genLine-1 || strings.ContainsAny(line, "<>&") {
			t.Fatalf("body line %d is not plain text of ≤ 76 characters: %q", i, line)
		}
	}
}

// TestGenStreams checks that hashing 64 MiB of content does not hold it:
// the heap grows by far less than the content.
func TestGenStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 64 MiB")
	}
	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := genSHA256(1, size); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("hashing %d MiB allocated %d MiB", size>>20, grew>>20)
	}
}

func TestRatePeriodSpreadsTheOfferedRate(t *testing.T) {
	cfg := config{Conns: 10000, Rate: 2000}
	if got := ratePeriod(cfg); got != 5*time.Second {
		t.Fatalf("10,000 connections at 2,000 req/s: each polls every %s, want 5s", got)
	}
	cfg.Rate = -1
	cfg.Mode, cfg.Notify, cfg.Systems, cfg.Concurrency, cfg.Size, cfg.BigSize, cfg.Duration, cfg.Drip, cfg.Notifications = "hold", "poll", 2, 1, 1, 1, time.Second, time.Second, 1
	if err := cfg.check(); err == nil {
		t.Fatal("-rate -1 accepted")
	}
	cfg.Rate = 0
	if err := cfg.check(); err != nil {
		t.Fatalf("closed loop refused: %v", err)
	}
	cfg.Mode = "fanout"
	if err := cfg.check(); err != nil {
		t.Fatalf("-mode fanout refused: %v", err)
	}
}

// TestSeveralNodes: -url and -pid take comma-separated lists; the admin
// setup goes to the first node, systems round-robin over them, and modes
// other than cycle refuse several nodes.
func TestSeveralNodes(t *testing.T) {
	cfg, err := parseFlags([]string{"-url", "http://a:1, http://b:2", "-pid", "10,20", "-admin-token", "x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://a:1" || len(cfg.URLs) != 2 || cfg.URLs[1] != "http://b:2" || cfg.PID != 10 || len(cfg.PIDs) != 1 || cfg.PIDs[0] != 20 {
		t.Fatalf("config = %+v", cfg)
	}
	if got := []string{nodeOf(cfg.URLs, 0), nodeOf(cfg.URLs, 1), nodeOf(cfg.URLs, 2)}; !slices.Equal(got, []string{"http://a:1", "http://b:2", "http://a:1"}) {
		t.Fatalf("nodes of systems 0, 1, 2 = %v", got)
	}
	one, err := parseFlags([]string{"-admin-token", "x"}, io.Discard)
	if err != nil || one.URL != "http://127.0.0.1:8080" || len(one.URLs) != 1 || one.PID != 0 || len(one.PIDs) != 0 {
		t.Fatalf("defaults = %+v, %v", one, err)
	}
	if _, err := parseFlags([]string{"-mode", "hold", "-url", "http://a:1,http://b:2"}, io.Discard); err == nil {
		t.Fatal("hold mode accepted two nodes")
	}
	if _, err := parseFlags([]string{"-pid", "x"}, io.Discard); err == nil {
		t.Fatal("-pid x accepted")
	}
}
