package soapout

import (
	"fmt"
	"strings"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus/route"
	"github.com/tuyenquang/lgsp/bus/service"
)

func init() {
	service.RegisterModule(service.Module{Name: "soapout", Provision: provision})
	service.RegisterRouteCheck("soap operations", checkOperations)
}

// checkOperations reports pushes and bridged services whose SOAP operation
// has no registered binding (bus/route cannot know the registry), and
// checks their mappings against the generated types (LintMapping): without
// this, such a push would only fail — dead — when its first exchange came.
func checkOperations(set *route.Set) route.Problems {
	var ps route.Problems
	miss := func(file string, line, col int, what, key string) {
		ps = append(ps, route.Problem{File: file, Line: line, Col: col, Msg: fmt.Sprintf("%s: SOAP operation %q is not registered (add its WSDL under wsdl/consumed/, run go generate ./wsdl/..., and register it with soapout.Register; registered: %s)", what, key, strings.Join(soap.Registered(), ", "))})
	}
	mapping := func(file string, line, col int, what string, b Binding, m []route.FieldMap, required bool) {
		for _, mp := range LintMapping(b, m, required) {
			l, c := mp.Line, mp.Col
			if l == 0 {
				l, c = line, col
			}
			ps = append(ps, route.Problem{File: file, Line: l, Col: c, Msg: what + ": " + mp.Msg})
		}
	}
	for _, p := range set.Pushes() {
		b, ok := soap.Lookup(p.Key())
		if !ok {
			miss(p.File, p.Line, p.Col, "push to "+p.System, p.Key())
			continue
		}
		mapping(p.File, p.Line, p.Col, "push to "+p.System, b, p.Mapping, true)
		for _, mp := range LintAnswer(b, p.Answer) {
			ps = append(ps, route.Problem{File: p.File, Line: mp.Line, Col: mp.Col, Msg: "push to " + p.System + ": " + mp.Msg})
		}
	}
	for _, sv := range set.Services() {
		if sv.SOAP == nil {
			continue
		}
		b, ok := soap.Lookup(sv.SOAP.Key())
		if !ok {
			miss(sv.File, sv.Line, sv.Col, "service "+sv.Name, sv.SOAP.Key())
			continue
		}
		// Without a mapping the JSON body is decoded by element names:
		// nothing to check before a call comes.
		if len(sv.SOAP.Mapping) > 0 {
			mapping(sv.File, sv.Line, sv.Col, "service "+sv.Name, b, sv.SOAP.Mapping, true)
		}
	}
	return ps
}

// provision registers pushes as a delivery kind of the node's engine, and
// as the diverter of the notifications of pushed recipients.
func provision(h *service.Host) error {
	p := &Pusher{
		Exchange: h.Exchange,
		Store:    h.Store,
		Routes:   h.Routes,
		Log:      h.Log.WithField("module", "soapout"),
		Node:     h.Config.Node,
		Wake:     h.Wake,
	}
	h.RegisterDelivery(p)
	h.Divert(p)
	return nil
}
