package ngsp

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tuyenquang/lgsp/bus"
	"github.com/tuyenquang/lgsp/bus/route"
)

// SectionName is the route-file section that maps LGSP systems to NGSP
// services (kind ngsp_call), owned by this adapter:
//
//	ngsp_deliveries:
//	  - system: 000.00.98.H60     # the LGSP system that stands for the national service
//	    service: vbdt-ngsp        # a service of the route files with gateway: ngsp
//	    path: /receive            # appended to the service's endpoint (optional)
//	    retry: {max_attempts: 10} # the one retry: schema (optional; default delivery.retry)
//
// It supersedes gateways.ngsp.deliveries of the configuration, which still
// works (deprecated); a system the route files map is delivered as they say.
const SectionName = "ngsp_deliveries"

var sectionFields = []string{"system", "service", "path", "retry"}

// RouteDelivery is one entry of the ngsp_deliveries: section.
type RouteDelivery struct {
	Delivery
	System string
	// Retry is the entry's retry: (nil: the node's delivery.retry).
	Retry *bus.RetryPolicy
	// Where the entry is, for problems.
	File      string
	Line, Col int
	svcLine   int
	svcCol    int
}

// Section is the ngsp_deliveries: section of route files.
func Section() route.Section {
	return route.Section{Name: SectionName, Decode: decodeSection, Build: buildSection, Check: checkSection}
}

func decodeSection(d *route.Decoder, key, val *yaml.Node) any {
	var out []*RouteDelivery
	for _, n := range d.List(route.Field{Key: key, Val: val}, "delivery") {
		if rd := decodeEntry(d, n); rd != nil {
			out = append(out, rd)
		}
	}
	return out
}

func decodeEntry(d *route.Decoder, n *yaml.Node) *RouteDelivery {
	fs, ok := d.Fields(n, sectionFields)
	if !ok {
		return nil
	}
	rd := &RouteDelivery{File: d.File(), Line: n.Line, Col: n.Column, svcLine: n.Line, svcCol: n.Column}
	valid := true
	if f, ok := fs.Require(n, "delivery", "system"); ok {
		if code, ok := d.String(f); ok {
			if _, err := bus.ParseSystemCode(code); err != nil {
				d.Errorf(f.Val, "system: %q is not an identifier code (QCVN 102, e.g. 000.00.98.H60)", code)
				valid = false
			} else {
				rd.System, rd.Line, rd.Col = code, f.Val.Line, f.Val.Column
			}
		} else {
			valid = false
		}
	} else {
		valid = false
	}
	if f, ok := fs.Require(n, "delivery", "service"); ok {
		if s, ok := d.String(f); ok && s != "" {
			rd.Service, rd.svcLine, rd.svcCol = s, f.Val.Line, f.Val.Column
		} else {
			if ok {
				d.Errorf(f.Val, "service: must not be empty")
			}
			valid = false
		}
	} else {
		valid = false
	}
	if f, ok := fs.Get("path"); ok {
		if p, ok := d.String(f); ok {
			if !strings.HasPrefix(p, "/") {
				d.Errorf(f.Val, "path: must start with /, got %q", p)
				valid = false
			} else {
				rd.Path = p
			}
		}
	}
	if f, ok := fs.Get("retry"); ok {
		r := d.Retry(f)
		rd.Retry = &r
	}
	if !valid {
		return nil
	}
	return rd
}

// buildSection joins the entries of every file, reporting a system mapped
// twice.
func buildSection(parts []any) (any, route.Problems) {
	var probs route.Problems
	byCode := map[string]*RouteDelivery{}
	for _, part := range parts {
		list, _ := part.([]*RouteDelivery)
		for _, rd := range list {
			if first, dup := byCode[rd.System]; dup {
				probs = append(probs, route.Problem{File: rd.File, Line: rd.Line, Col: rd.Col,
					Msg: fmt.Sprintf("system %s already has an NGSP delivery (at %s:%d:%d)", rd.System, first.File, first.Line, first.Col)})
				continue
			}
			byCode[rd.System] = rd
		}
	}
	return byCode, probs
}

// checkSection: the service of every entry is declared with gateway: ngsp.
func checkSection(set *route.Set) route.Problems {
	var probs route.Problems
	m := RouteDeliveries(set)
	codes := make([]string, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		rd := m[c]
		if svc, ok := set.Service(rd.Service); !ok || svc.Gateway != GatewayName {
			probs = append(probs, route.Problem{File: rd.File, Line: rd.svcLine, Col: rd.svcCol,
				Msg: fmt.Sprintf("service: %q is not declared in the route files with gateway: ngsp", rd.Service)})
		}
	}
	return probs
}

// RouteDeliveries returns the ngsp_deliveries: of a loaded set by system
// code (nil when the section is not registered or empty).
func RouteDeliveries(set *route.Set) map[string]*RouteDelivery {
	m, _ := set.Section(SectionName).(map[string]*RouteDelivery)
	return m
}
