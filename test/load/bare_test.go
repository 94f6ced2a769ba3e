package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for the generator as its own
// child (startChild runs os.Executable with bareProxyArg or bareSSEArg).
func TestMain(m *testing.M) {
	switch {
	case len(os.Args) == 3 && os.Args[1] == bareProxyArg:
		if err := serveBareProxy(os.Args[2]); err != nil {
			os.Exit(1)
		}
		return
	case len(os.Args) == 2 && os.Args[1] == bareSSEArg:
		if err := serveBareSSE(); err != nil {
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestBareFanoutReachesEveryStream: the fanout mode's bare broadcaster
// delivers every notification to every stream, and the delays are counted.
func TestBareFanoutReachesEveryStream(t *testing.T) {
	res, err := bareFanout(t.Context(), 40, 3)
	if err != nil {
		t.Fatal(err)
	}
	if res.Subscribers != 40 || res.Notifications != 3 || res.Missing != 0 || res.Delay.Count != 120 {
		t.Fatalf("bare fanout: %+v", res)
	}
}

// TestBareProxyForwards: the service mode's bare proxy forwards a call to
// its target and the answer back.
func TestBareProxyForwards(t *testing.T) {
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(append([]byte(r.URL.Path+" "), b...))
	}))
	defer dest.Close()
	p, err := startChild(context.Background(), bareProxyArg, dest.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	resp, err := http.Post("http://"+p.addr+"/ping", "text/plain", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "/ping abc" {
		t.Fatalf("through the bare proxy: %d %q", resp.StatusCode, b)
	}
}
