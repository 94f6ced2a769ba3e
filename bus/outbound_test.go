package bus

import (
	"errors"
	"net/netip"
	"net/url"
	"testing"
)

// TestOutboundPolicyDefault: every special form of a non-public target is
// refused by the default policy, on the URL's literal host, with
// outbound.refused; public addresses and names pass the literal check.
func TestOutboundPolicyDefault(t *testing.T) {
	p, err := NewOutboundPolicy(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	refused := []string{
		"http://127.0.0.1/h", "http://127.0.0.1:8080/h", "http://[::1]/h", "http://0x7f000001/h", "http://0177.0.0.1/h",
		"http://2130706433/h", "http://127.1/h", "http://0x7f.1/h", "http://127.0.0.1./h", "http://[::ffff:127.0.0.1]/h",
		"http://[::ffff:7f00:1]/h", "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/h", "http://172.16.0.1/h",
		"http://172.31.255.255/h", "http://192.168.1.1/h", "http://[fc00::1]/h", "http://[fd12:3456::1]/h", "http://[fe80::1%25eth0]/h",
		"http://0.0.0.0/h", "http://0/h", "http://[::]/h", "http://224.0.0.1/h", "http://[ff02::1]/h", "http://100.64.0.1/h",
		"http://255.255.255.255/h", "http://198.18.0.1/h", "http://[64:ff9b::7f00:1]/h", "http://[2002:7f00:1::]/h",
		"https://0x7F.0x0.0x0.0x1/h", "http://017700000001/h",
		// malformed numeric hosts: refused rather than handed to a resolver
		"http://0x/h", "http://08.0.0.1/h", "http://1.2.3.4.5/h", "http://256.1.1.1/h", "http://4294967296/h",
	}
	for _, u := range refused {
		if err := p.CheckURL(u); !errors.Is(err, ErrOutboundRefused) {
			t.Errorf("%s: %v, want outbound.refused", u, err)
		}
	}
	for _, u := range []string{"https://qlvb.example.gov.vn/hook", "https://8.8.8.8/h", "http://[2606:4700::1111]/h", "https://localhost/h", "http://cafe.gov.vn/h", "http://1e100.net/h"} {
		if err := p.CheckURL(u); err != nil {
			t.Errorf("%s: %v, want allowed by the literal check", u, err)
		}
	}
}

func TestOutboundPolicyAllow(t *testing.T) {
	p, err := NewOutboundPolicy(false, []string{"127.0.0.0/8", "::1", "10.20.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1", "10.20.3.4"} {
		if err := p.CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s: %v, want allowed by allow_cidrs", a, err)
		}
	}
	for _, a := range []string{"10.21.0.1", "192.168.0.1", "169.254.169.254"} {
		if err := p.CheckAddr(netip.MustParseAddr(a)); !errors.Is(err, ErrOutboundRefused) {
			t.Errorf("%s: %v, want refused outside allow_cidrs", a, err)
		}
	}
	priv, _ := NewOutboundPolicy(true, nil)
	if err := priv.CheckAddr(netip.MustParseAddr("192.168.1.1")); err != nil {
		t.Errorf("allow_private: %v", err)
	}
	for _, a := range []string{"0.0.0.0", "224.0.0.1", "ff02::1"} {
		if err := priv.CheckAddr(netip.MustParseAddr(a)); !errors.Is(err, ErrOutboundRefused) {
			t.Errorf("allow_private lets %s through: %v", a, err)
		}
	}
	if _, err := NewOutboundPolicy(false, []string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}

func TestNumericIPv4(t *testing.T) {
	for host, want := range map[string]string{"0x7f000001": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "2130706433": "127.0.0.1", "127.1": "127.0.0.1", "10.1.258": "10.1.1.2", "0": "0.0.0.0"} {
		a, ok, err := numericIPv4(host)
		if !ok || err != nil || a.String() != want {
			t.Errorf("%s: %v %v %v, want %s", host, a, ok, err, want)
		}
	}
	for _, host := range []string{"example.gov.vn", "cafe", "a.1", "1e100.net", ""} {
		if _, ok, _ := numericIPv4(host); ok {
			t.Errorf("%s taken as numeric", host)
		}
	}
}

// FuzzOutboundCheckURL: whatever URL a system registers, the literal check
// never panics, and a host that parses as an address in the loopback range
// is never allowed.
func FuzzOutboundCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://0x7f000001/", "http://[::ffff:127.0.0.1]/", "http://2130706433/", "https://example.gov.vn/h"} {
		f.Add(s)
	}
	p, _ := NewOutboundPolicy(false, nil)
	f.Fuzz(func(t *testing.T, raw string) {
		err := p.CheckURL(raw)
		if a, perr := netip.ParseAddr(hostOf(raw)); perr == nil && a.Unmap().IsLoopback() && err == nil {
			t.Fatalf("%q allowed", raw)
		}
	})
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
