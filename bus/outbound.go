package bus

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// OutboundPolicy says which addresses LGSP may connect to on behalf of a
// connected system: webhook URLs are registered per system, so without it a
// system could make the platform call its own network (SSRF). Targets that
// operators configure in route files (REST proxy and SOAP push destinations)
// are trusted and not subject to it.
//
// By default only public unicast addresses are allowed. Loopback, private,
// link-local, shared (CGN), documentation and other special-purpose ranges
// are refused unless AllowPrivate is set or the address is in Allow;
// unspecified, multicast and broadcast addresses are refused unless in Allow.
// The check runs on the literal host of a URL (before any DNS lookup) and
// again in the dialer on the address actually connected to, on every
// attempt, so a name that resolves (or rebinds) to a refused address is
// refused before the connection is opened.
type OutboundPolicy struct {
	AllowPrivate bool
	Allow        []netip.Prefix
	// Dialed, if set, is called with every address the dialer lets through,
	// just before connecting (tests count connection attempts with it).
	Dialed func(addr netip.AddrPort)
}

// NewOutboundPolicy builds a policy from configuration: allowPrivate and
// CIDR prefixes ("127.0.0.0/8", "::1/128", or a bare address).
func NewOutboundPolicy(allowPrivate bool, cidrs []string) (*OutboundPolicy, error) {
	p := &OutboundPolicy{AllowPrivate: allowPrivate}
	for _, c := range cidrs {
		pf, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(c))
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix or an address", c)
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		p.Allow = append(p.Allow, pf.Masked())
	}
	return p, nil
}

// specialRanges are not public unicast; the bool tells whether AllowPrivate
// lets them through (false: unspecified, multicast, broadcast — never a
// valid target unless explicitly in Allow).
var specialRanges = func() []struct {
	p       netip.Prefix
	private bool
} {
	var out []struct {
		p       netip.Prefix
		private bool
	}
	add := func(private bool, cidrs ...string) {
		for _, c := range cidrs {
			out = append(out, struct {
				p       netip.Prefix
				private bool
			}{netip.MustParsePrefix(c), private})
		}
	}
	add(false, "0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::/128", "ff00::/8")
	add(true,
		"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
		"2002::/16", "fc00::/7", "fe80::/10", "fec0::/10")
	return out
}()

// CheckAddr refuses an address the policy does not allow, with
// ErrOutboundRefused naming the address and the reason.
func (p *OutboundPolicy) CheckAddr(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	for _, pf := range p.Allow {
		if pf.Contains(a) {
			return nil
		}
	}
	for _, r := range specialRanges {
		if r.p.Contains(a) {
			if r.private && p.AllowPrivate {
				return nil
			}
			return ErrOutboundRefused.New("%s is in %s, a non-public range (allow it with webhooks.allow_private or webhooks.allow_cidrs)", a, r.p)
		}
	}
	return nil
}

// CheckURL checks a URL's host without resolving it: an address literal in
// any form a resolver might accept (127.0.0.1, [::1], [::ffff:127.0.0.1],
// 0x7f000001, 0177.0.0.1, 2130706433, 127.1 …) is checked with CheckAddr;
// a name is left to the dialer's check of the address it resolves to.
func (p *OutboundPolicy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ErrOutboundRefused.New("not an absolute URL")
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(a)
	}
	if a, ok, err := numericIPv4(host); ok {
		if err != nil {
			return ErrOutboundRefused.New("host %q is a malformed numeric address", host)
		}
		return p.CheckAddr(a)
	}
	return nil
}

// numericIPv4 parses host the way inet_aton does — one to four parts, each
// decimal, 0x-hex or 0-octal, the last filling the remaining bytes — so
// that hosts such as 0x7f000001, 0177.0.0.1 or 2130706433 are recognised as
// the addresses some resolvers and proxies take them for. ok is false when
// host is not made of numeric parts at all (a name).
func numericIPv4(host string) (a netip.Addr, ok bool, err error) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return a, allNumeric(parts), fmt.Errorf("more than four parts")
	}
	if !allNumeric(parts) {
		return a, false, nil
	}
	vals := make([]uint64, len(parts))
	for i, s := range parts {
		base := 10
		switch {
		case len(s) > 1 && (s[1] == 'x' || s[1] == 'X'):
			base, s = 16, s[2:]
		case len(s) > 1 && s[0] == '0':
			base, s = 8, s[1:]
		}
		if vals[i], err = strconv.ParseUint(s, base, 32); err != nil {
			return a, true, err
		}
	}
	n := len(vals)
	var ip uint64
	for i, v := range vals[:n-1] {
		if v > 255 {
			return a, true, fmt.Errorf("part %d over 255", i+1)
		}
		ip |= v << (24 - 8*uint(i))
	}
	last := vals[n-1]
	if last >= 1<<(8*uint(5-n)) {
		return a, true, fmt.Errorf("last part too large")
	}
	ip |= last
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true, nil
}

// allNumeric reports whether every part is a number as inet_aton reads it
// (decimal digits, or 0x followed by hex digits); a DNS name always has a
// part that is not.
func allNumeric(parts []string) bool {
	for _, s := range parts {
		if s == "" {
			return false
		}
		digits := "0123456789"
		if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
			s, digits = s[2:], "0123456789abcdefABCDEF"
		}
		if strings.Trim(s, digits) != "" {
			return false
		}
	}
	return true
}

// Control is a net.Dialer Control function: it runs after name resolution,
// on the address about to be connected to, and refuses it before any
// packet is sent.
func (p *OutboundPolicy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return ErrOutboundRefused.New("cannot check dial address %q", address)
	}
	if err := p.CheckAddr(ap.Addr()); err != nil {
		return err
	}
	if p.Dialed != nil {
		p.Dialed(ap)
	}
	return nil
}

// Client returns an HTTP client that applies the policy on every
// connection, uses no proxy from the environment (a proxy would connect on
// our behalf, past the check), and does not follow redirects: a 3xx answer
// is returned as is, so credentials never travel to another origin.
func (p *OutboundPolicy) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: p.Control}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	DefaultClientTLS().Apply(tr) // trust store and client certificates (outbound_tls)
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
