package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux this runs on (sysconf would need cgo).
const clockTicks = 100

// procSample is one reading of /proc/PID.
type procSample struct {
	cpu   time.Duration // utime + stime
	rssKB int64         // VmRSS
	hwmKB int64         // VmHWM: peak RSS since the process started
}

func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime field 14, stime field 15.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	s.cpu = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "VmRSS":
			s.rssKB = parseKB(v)
		case "VmHWM":
			s.hwmKB = parseKB(v)
		}
	}
	return s, nil
}

func parseKB(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n
}

// procUsage is a process's CPU and memory over a run.
type procUsage struct {
	PID        int     `json:"pid"`
	CPUCorePct float64 `json:"cpu_pct_of_one_core"`  // Δcpu / Δwall
	CPUHostPct float64 `json:"cpu_pct_of_all_cores"` // the same / ncpu
	RSSStart   float64 `json:"rss_start_mib"`
	RSSMax     float64 `json:"rss_max_sampled_mib"` // max VmRSS sampled every 50 ms
	HWM        float64 `json:"vmhwm_mib"`           // VmHWM at the end (peak since process start)
	RSSEnd     float64 `json:"rss_end_mib"`
	Growth     float64 `json:"rss_growth_mib"` // RSSMax − RSSStart
}

// watcher samples a process every 50 ms until stopped.
type watcher struct {
	pid    int
	t0     time.Time
	start  procSample
	mu     sync.Mutex
	maxKB  int64
	stop   chan struct{}
	done   chan struct{}
	failed error // set by loop before done is closed
}

// watch starts sampling pid; it returns nil for pid ≤ 0 (all methods accept
// a nil watcher).
func watch(pid int) (*watcher, error) {
	if pid <= 0 {
		return nil, nil
	}
	s, err := readProc(pid)
	if err != nil {
		return nil, fmt.Errorf("-pid %d: %w", pid, err)
	}
	w := &watcher{pid: pid, t0: time.Now(), start: s, maxKB: s.rssKB, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer close(w.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			s, err := readProc(w.pid)
			if err != nil {
				w.failed = err
				return
			}
			w.mu.Lock()
			w.maxKB = max(w.maxKB, s.rssKB)
			w.mu.Unlock()
		}
	}
}

// finish stops sampling and returns the usage since watch.
func (w *watcher) finish() *procUsage {
	if w == nil {
		return nil
	}
	close(w.stop)
	<-w.done
	end, err := readProc(w.pid)
	if err == nil {
		err = w.failed
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: reading /proc/%d at the end: %v\n", w.pid, err)
		return nil
	}
	wall := time.Since(w.t0)
	core := 100 * float64(end.cpu-w.start.cpu) / float64(wall)
	maxKB := max(w.maxKB, end.rssKB)
	return &procUsage{
		PID: w.pid, CPUCorePct: round1(core), CPUHostPct: round1(core / float64(numCPU())),
		RSSStart: mib(w.start.rssKB), RSSMax: mib(maxKB), HWM: mib(end.hwmKB), RSSEnd: mib(end.rssKB),
		Growth: mib(maxKB - w.start.rssKB),
	}
}

func mib(kb int64) float64     { return round1(float64(kb) / 1024) }
func round1(f float64) float64 { return math.Round(f*10) / 10 }

func printUsage(w io.Writer, who string, u *procUsage) {
	if u == nil {
		return
	}
	fmt.Fprintf(w, "%-9s pid %-7d CPU %6.1f%% of one core = %5.1f%% of %d cores | RSS start %.1f MiB, max sampled %.1f MiB, VmHWM %.1f MiB, end %.1f MiB (growth %.1f MiB)\n",
		who, u.PID, u.CPUCorePct, u.CPUHostPct, numCPU(), u.RSSStart, u.RSSMax, u.HWM, u.RSSEnd, u.Growth)
}

func numCPU() int { return runtime.NumCPU() }

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit (hold mode opens
// one socket per connection) and returns the soft limit now in force.
func raiseNoFile() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return r.Cur, err
		}
	}
	return r.Cur, nil
}

// establishedTo counts the ESTABLISHED TCP connections (IPv4 and IPv6) whose
// remote port is port: the client ends of the connections to the server.
func establishedTo(port int) int {
	hexPort := fmt.Sprintf(":%04X", port)
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) > 3 && fs[3] == "01" && strings.HasSuffix(fs[2], hexPort) {
				n++
			}
		}
	}
	return n
}
