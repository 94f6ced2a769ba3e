package edxml

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// randReader yields n pseudo-random bytes without holding them.
type randReader struct {
	r *rand.ChaCha8
	n int64
}

func (r *randReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n, _ := r.r.Read(p)
	r.n -= int64(n)
	return n, nil
}

func sized(n int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		return io.NopCloser(&randReader{r: rand.NewChaCha8([32]byte{1}), n: n}), nil
	}
}

// packetOfSize builds a document packet whose single attachment makes the
// packet about total bytes long.
func packetOfSize(total int64) *Packet {
	p := newDocument(DocNew)
	p.Attachments[0].Open = sized(total * 3 / 4)
	return p
}

func BenchmarkParseValidate20KB(b *testing.B) {
	raw := buildBytes(b, packetOfSize(20<<10))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(bytes.NewReader(raw), nil)
		if err != nil {
			b.Fatal(err)
		}
		if HasErrors(Validate(p)) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkParse10MB(b *testing.B) {
	raw := buildBytes(b, packetOfSize(10<<20))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(raw), nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild10MB(b *testing.B) {
	p := packetOfSize(10 << 20)
	b.SetBytes(10 << 20)
	for b.Loop() {
		if err := Build(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPeakHeap100MB builds a 100 MB packet into a pipe and parses it from
// the other end (no file, no buffer), sampling the heap while the sink
// reads. The peak must stay far below the packet size.
func TestPeakHeap100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB packet; skipped with -short")
	}
	const total = 100 << 20
	const limitMB = 32
	p := packetOfSize(total)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Build(pw, p)) }()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	sample := func() {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak {
			peak = ms.HeapInuse
		}
	}
	var size int64
	q, err := Parse(pr, &Options{Sink: func(m AttachmentMeta, r io.Reader) error {
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			size += int64(n)
			if size%(4<<20) < int64(n) {
				sample()
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	sample()
	if size != total*3/4 || q.Attachments[0].Size != size {
		t.Fatalf("decoded %d bytes, want %d", size, total*3/4)
	}
	peakMB := float64(peak) / (1 << 20)
	t.Logf("100 MB packet: peak HeapInuse %.1f MB (baseline %.1f MB), attachment %d bytes", peakMB, float64(base)/(1<<20), size)
	if peakMB > limitMB {
		t.Fatalf("peak heap %.1f MB > %d MB", peakMB, limitMB)
	}
}
