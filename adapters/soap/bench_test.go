package soap_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	gowsdl "github.com/hooklift/gowsdl/soap"

	"github.com/tuyenquang/lgsp/adapters/soap"
)

// keepAlive undoes gowsdl v0.5.0's req.Close = true (docs/soap.md).
type keepAlive struct{ base http.RoundTripper }

func (k keepAlive) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Close = false
	return k.base.RoundTrip(r)
}

// BenchmarkClientCall measures sequential GetCitizen calls against our
// server on loopback: our client (SOAP 1.1 and 1.2, plain and with a
// UsernameToken digest) and, in the same run, gowsdl v0.5.0's runtime
// client as shipped and with the keep-alive workaround. calls/s and the
// TCP connections the server accepted (in all rounds) are reported per
// sub-benchmark.
func BenchmarkClientCall(b *testing.B) {
	req := &GetCitizen{Id: "001085000123", AsOf: "2026-03-01"}
	type caller func(ctx context.Context, resp *GetCitizenResponse) error
	cases := []struct {
		name string
		make func(url string) caller
	}{
		{"lgsp-1.1", func(url string) caller {
			c := newClient(b, url)
			return func(ctx context.Context, r *GetCitizenResponse) error { return c.Call(ctx, actGetCitizen, req, r) }
		}},
		{"lgsp-1.2", func(url string) caller {
			c := newClient(b, url, soap.WithVersion(soap.V12))
			return func(ctx context.Context, r *GetCitizenResponse) error { return c.Call(ctx, actGetCitizen, req, r) }
		}},
		{"lgsp-1.1-wss-digest", func(url string) caller {
			c := newClient(b, url, soap.WithUsernameToken(wssUser, wssPassword, true), soap.WithTimestamp(time.Minute))
			return func(ctx context.Context, r *GetCitizenResponse) error { return c.Call(ctx, actGetCitizen, req, r) }
		}},
		{"gowsdl-v0.5.0-default", func(url string) caller {
			c := gowsdl.NewClient(url)
			return func(ctx context.Context, r *GetCitizenResponse) error {
				return c.CallContext(ctx, actGetCitizen, req, r)
			}
		}},
		{"gowsdl-v0.5.0-keepalive-fix", func(url string) caller {
			tr := &http.Transport{MaxIdleConnsPerHost: 16}
			c := gowsdl.NewClient(url, gowsdl.WithHTTPClient(&http.Client{Transport: keepAlive{tr}, Timeout: 30 * time.Second}))
			return func(ctx context.Context, r *GetCitizenResponse) error {
				return c.CallContext(ctx, actGetCitizen, req, r)
			}
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			f := newFixture(b, fixtureOpts{})
			call := tc.make(f.URL)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var resp GetCitizenResponse
				if err := call(ctx, &resp); err != nil {
					b.Fatal(err)
				}
				if resp.Age != 41 {
					b.Fatalf("answer %+v", resp)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			b.ReportMetric(float64(f.accepted.Load()), "tcp-conns")
		})
	}
}
