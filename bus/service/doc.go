// Package service wires LGSP together: configuration (declared once here,
// decoded strictly, overridable from the environment), the store, vault,
// registry, route set, exchange service and notifications; the HTTP server
// with its limits, request ids, health and admin API; route reload (SIGHUP
// and admin call: build, validate, swap — a bad set never replaces a good
// one); and ordered shutdown (stop intake → drain → stop workers → close
// the store).
//
// Adapters register themselves with RegisterModule from init(); the service
// never names an adapter. It imports bus and bus/*.
package service
