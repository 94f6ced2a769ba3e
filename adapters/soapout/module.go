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
// has no registered binding (bus/route cannot know the registry): without
// this, such a push would only fail — dead — when its first exchange came.
func checkOperations(set *route.Set) route.Problems {
	var ps route.Problems
	miss := func(file string, line, col int, what, key string) {
		ps = append(ps, route.Problem{File: file, Line: line, Col: col, Msg: fmt.Sprintf("%s: SOAP operation %q is not registered (add its WSDL under wsdl/consumed/, run go generate ./wsdl/..., and register it with soapout.Register; registered: %s)", what, key, strings.Join(soap.Registered(), ", "))})
	}
	for _, p := range set.Pushes() {
		if _, ok := soap.Lookup(p.Key()); !ok {
			miss(p.File, p.Line, p.Col, "push to "+p.System, p.Key())
		}
	}
	for _, sv := range set.Services() {
		if sv.SOAP == nil {
			continue
		}
		if _, ok := soap.Lookup(sv.SOAP.Key()); !ok {
			miss(sv.File, sv.Line, sv.Col, "service "+sv.Name, sv.SOAP.Key())
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
