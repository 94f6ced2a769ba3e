package soapout

import (
	"github.com/tuyenquang/lgsp/bus/service"
)

func init() {
	service.RegisterModule(service.Module{Name: "soapout", Provision: provision})
}

// provision hands the pushes to the node's outbox worker.
func provision(h *service.Host) error {
	h.HandleOutbox(&Pusher{
		Exchange: h.Exchange,
		Store:    h.Store,
		Routes:   h.Routes,
		Log:      h.Log.WithField("module", "soapout"),
		Node:     h.Config.Node,
		Wake:     h.Wake,
	})
	return nil
}
