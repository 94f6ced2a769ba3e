package service

import (
	"net/netip"
	"strings"
	"testing"
)

// TestClientAddr: X-Forwarded-For counts only when the peer is a trusted
// proxy, and then only up to the first hop that is not trusted: a client
// cannot choose its address by sending the header itself.
func TestClientAddr(t *testing.T) {
	trusted, err := trustedProxies([]string{"127.0.0.2", "10.20.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
		via    bool
	}{
		{"127.0.0.9:5000", []string{"127.0.0.77"}, "127.0.0.9:5000", false},                       // untrusted peer: header ignored
		{"127.0.0.2:5000", nil, "127.0.0.2:5000", false},                                          // trusted peer, no header
		{"127.0.0.2:5000", []string{"127.0.0.77"}, "127.0.0.77:0", true},                          // one proxy
		{"127.0.0.2:5000", []string{"127.0.0.66, 127.0.0.77"}, "127.0.0.77:0", true},              // client-sent 66 is not believed
		{"127.0.0.2:5000", []string{"127.0.0.66", "127.0.0.77, 10.20.3.4"}, "127.0.0.77:0", true}, // two trusted hops
		{"127.0.0.2:5000", []string{"127.0.0.77, garbage"}, "127.0.0.2:5000", false},              // unparsable last hop: stay at the proxy
		{"[::ffff:127.0.0.2]:5000", []string{"::1"}, "[::1]:0", true},                             // v4-mapped peer
		{"not-an-addr", []string{"127.0.0.77"}, "not-an-addr", false},
	} {
		got, via := ClientAddr(c.remote, c.xff, trusted)
		if got != c.want || via != c.via {
			t.Errorf("ClientAddr(%q, %q) = %q, %v; want %q, %v", c.remote, c.xff, got, via, c.want, c.via)
		}
	}
	if _, err := trustedProxies([]string{"proxy.local"}); err == nil {
		t.Error("a host name is accepted as a trusted proxy")
	}
}

// FuzzClientAddr: whatever the header, the answer is the peer or a bare
// address (port 0) that is not a trusted proxy, or a trusted one only when
// it is the peer's chain end.
func FuzzClientAddr(f *testing.F) {
	f.Add("127.0.0.77, 10.20.3.4")
	f.Add(",,,")
	f.Add(strings.Repeat("10.20.0.1,", 100))
	trusted, _ := trustedProxies([]string{"10.20.0.0/16"})
	f.Fuzz(func(t *testing.T, xff string) {
		got, via := ClientAddr("10.20.0.1:443", []string{xff}, trusted)
		if !via {
			if got != "10.20.0.1:443" {
				t.Fatalf("not via proxy but %q", got)
			}
			return
		}
		ap, err := netip.ParseAddrPort(got)
		if err != nil || ap.Port() != 0 {
			t.Fatalf("forwarded address %q", got)
		}
	})
}

// BenchmarkClientAddrWorst: a header of the largest size the server lets
// through (max_header_bytes) costs one pass and bounded memory.
func BenchmarkClientAddrWorst(b *testing.B) {
	trusted, _ := trustedProxies([]string{"10.20.0.0/16"})
	xff := strings.Repeat("10.20.0.1,", Defaults().Limits.MaxHeaderBytes/10)
	b.ReportAllocs()
	for b.Loop() {
		ClientAddr("10.20.0.1:443", []string{xff}, trusted)
	}
}
