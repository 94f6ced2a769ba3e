package metrics

import (
	"sync"
	"time"
)

// GatewayHealth is what this process saw of one gateway operation: the
// last attempt and the last success. Alert rules read it (a poller that
// has not succeeded for N minutes).
type GatewayHealth struct {
	Gateway, Op     string
	LastTry, LastOK time.Time
	FailingSince    time.Time // first failure after the last success; zero when the last call succeeded
}

var (
	ghMu sync.Mutex
	gh   = map[[2]string]*GatewayHealth{}
)

func noteGateway(gateway, op string, ok bool) {
	ghMu.Lock()
	defer ghMu.Unlock()
	h := gh[[2]string{gateway, op}]
	if h == nil {
		h = &GatewayHealth{Gateway: gateway, Op: op}
		gh[[2]string{gateway, op}] = h
	}
	now := time.Now()
	h.LastTry = now
	if ok {
		h.LastOK, h.FailingSince = now, time.Time{}
	} else if h.FailingSince.IsZero() {
		h.FailingSince = now
	}
}

// Gateways returns a copy of the gateway health seen by this process.
func Gateways() []GatewayHealth {
	ghMu.Lock()
	defer ghMu.Unlock()
	out := make([]GatewayHealth, 0, len(gh))
	for _, h := range gh {
		out = append(out, *h)
	}
	return out
}
