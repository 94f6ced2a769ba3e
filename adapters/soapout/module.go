package soapout

import (
	"context"
	"sync"

	"github.com/tuyenquang/lgsp/adapters/soap"
	"github.com/tuyenquang/lgsp/bus/service"
)

func init() { RegisterIn(service.DefaultEnvironment()) }

// bindingsKey is the key of the SOAP bindings in an environment.
const bindingsKey = "soap.bindings"

// BindingsOf returns the bindings of consumed operations of env: in the
// default environment soap.DefaultBindings (what the generated packages
// register), in any other a registry of its own.
func BindingsOf(env *service.Environment) *soap.Bindings {
	return env.Extension(bindingsKey, func() any {
		if env == service.DefaultEnvironment() {
			return soap.DefaultBindings
		}
		return soap.NewBindings()
	}).(*soap.Bindings)
}

// RegisterIn registers pushes in env: the pushes: section of route files
// (Section, checked against env's SOAP bindings, as are the soap: blocks
// of services) and the module that delivers them. init does it for the
// default environment.
func RegisterIn(env *service.Environment) {
	b := BindingsOf(env)
	if _, ok := env.Sections().ServiceField(soap.BridgeField); !ok {
		soap.RegisterBridgeField(env.Sections()) // the default sections have it from adapters/soap's init
	}
	env.RegisterSection(Section(b.Lookup, b.Registered))
	env.RegisterModule(service.Module{Name: "soapout", Provision: provision, Stop: stop})
}

// pushers are the Pushers of the nodes of this process, by host, for Stop.
var pushers sync.Map // *service.Host → *Pusher

// provision registers pushes as a delivery kind of the node's engine, and
// as the diverter of the notifications of pushed recipients.
func provision(h *service.Host) error {
	b := BindingsOf(h.Env)
	p := &Pusher{
		Exchange: h.Exchange,
		Store:    h.Store,
		Routes:   h.Routes,
		Log:      h.Log.WithField("module", "soapout"),
		Node:     h.Config.Node,
		Wake:     h.Wake,
		Bindings: b,
	}
	h.RegisterDelivery(p)
	h.Divert(p)
	pushers.Store(h, p)
	return nil
}

// stop runs in the node's ordered shutdown, once the delivery engine has
// stopped: the idle connections to legacy endpoints are closed.
func stop(_ context.Context, h *service.Host) error {
	if p, ok := pushers.LoadAndDelete(h); ok {
		p.(*Pusher).Close()
	}
	return nil
}
