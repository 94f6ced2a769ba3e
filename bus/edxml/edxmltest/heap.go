package edxmltest

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// HeapUse is what one call cost the heap, in bytes above the HeapInuse
// measured after a GC just before the call (so what was allocated before,
// such as the input, is not counted).
type HeapUse struct {
	// Peak is the highest HeapInuse sampled every 200 µs while the call
	// ran. A spike shorter than the interval can be missed: it is a lower
	// bound of the true peak within that resolution.
	Peak int64
	// After is HeapInuse after the call, a GC and debug.FreeOSMemory: what
	// the call left behind. It can be negative.
	After int64
}

// MeasureHeap runs f while a goroutine samples runtime.MemStats.HeapInuse.
// It measures the whole process: in a test that serves a node in process,
// the node's request handling and the test's client are both counted.
func MeasureHeap(f func()) HeapUse {
	base := heapAfterGC()
	var mu sync.Mutex
	peak := base
	sample := func() {
		var s runtime.MemStats
		runtime.ReadMemStats(&s)
		mu.Lock()
		peak = max(peak, s.HeapInuse)
		mu.Unlock()
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	f()
	sample()
	close(stop)
	<-done
	after := heapAfterGC()
	return HeapUse{Peak: int64(peak) - int64(base), After: int64(after) - int64(base)}
}

// PeakHeap is MeasureHeap(f).Peak.
func PeakHeap(f func()) int64 { return MeasureHeap(f).Peak }

// heapAfterGC collects garbage (GC is synchronous), returns freed spans to
// the OS and reads HeapInuse.
func heapAfterGC() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
