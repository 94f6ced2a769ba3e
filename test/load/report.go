package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// meters watch the processes of a run: the server (-pid), its database
// (-db-pid), this load generator, and the whole host.
type meters struct {
	server, db, self *watcher
	more             []*watcher // the other nodes (-pid a,b,…)
	host             cpuTimes
}

// usage is what the meters measured.
type usage struct {
	server, db, self *procUsage
	more             []*procUsage
	host             *hostUsage
}

func startMeters(cfg config) (*meters, error) {
	var m meters
	var err error
	if m.server, err = watch(cfg.PID); err != nil {
		return nil, err
	}
	if m.db, err = watch(cfg.DBPID); err != nil {
		return nil, err
	}
	if m.self, err = watch(os.Getpid()); err != nil {
		return nil, err
	}
	for _, pid := range cfg.PIDs {
		w, err := watch(pid)
		if err != nil {
			return nil, err
		}
		m.more = append(m.more, w)
	}
	m.host, _ = readCPUTimes()
	return &m, nil
}

func (m *meters) finish() usage {
	u := usage{server: m.server.finish(), db: m.db.finish(), self: m.self.finish()}
	others := hostPct(u.server) + hostPct(u.db) + hostPct(u.self)
	for _, w := range m.more {
		pu := w.finish()
		u.more = append(u.more, pu)
		others += hostPct(pu)
	}
	if end, err := readCPUTimes(); err == nil && end.total > m.host.total {
		busy := 100 * float64((end.total-end.idle)-(m.host.total-m.host.idle)) / float64(end.total-m.host.total)
		u.host = &hostUsage{BusyPct: round1(busy), OthersPct: round1(busy - others)}
	}
	return u
}

func (u usage) print(w io.Writer) {
	printUsage(w, "server", u.server)
	for i, pu := range u.more {
		printUsage(w, fmt.Sprintf("server%d", i+2), pu)
	}
	printUsage(w, "database", u.db)
	printUsage(w, "loadgen", u.self)
	if u.host != nil {
		fmt.Fprintf(w, "host      %d cores busy %.1f%% (all processes); other processes than the above: %.1f%% of %d cores\n", numCPU(), u.host.BusyPct, u.host.OthersPct, numCPU())
	}
}

// hostUsage is the whole machine's CPU use over a run, from /proc/stat.
type hostUsage struct {
	BusyPct   float64 `json:"busy_pct"`   // all cores, all processes
	OthersPct float64 `json:"others_pct"` // the part not used by the watched processes
}

func hostPct(u *procUsage) float64 {
	if u == nil {
		return 0
	}
	return u.CPUHostPct
}

// cpuTimes is the first line of /proc/stat, in ticks.
type cpuTimes struct{ total, idle uint64 }

func readCPUTimes() (cpuTimes, error) {
	var c cpuTimes
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		c.total += n
		if i == 3 || i == 4 { // idle, iowait
			c.idle += n
		}
	}
	return c, nil
}

// verdict prints PASS or FAIL and the RESULT line; it returns errTargetMissed
// on FAIL.
func verdict(w io.Writer, pass bool, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	word := "PASS"
	if !pass {
		word = "FAIL"
	}
	fmt.Fprintf(w, "\n%s\nRESULT %s\n", word, b)
	if !pass {
		return errTargetMissed
	}
	return nil
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
