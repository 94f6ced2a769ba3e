// Package service wires LGSP together: configuration (declared once here,
// decoded strictly, overridable from the environment), the store, vault,
// registry, route set, exchange service and notifications; the HTTP server
// with its limits, request ids, health and admin API; route reload (SIGHUP
// and admin call: build, validate, swap — a bad set never replaces a good
// one); and ordered shutdown (stop intake → drain → stop workers → close
// the store).
//
// Every registry a node is built from (step kinds, route-file sections,
// modules, signature algorithms, adapters' own registries) sits behind one
// Environment; adapters register themselves in the default one with
// RegisterModule from init(), and tests build an empty one. A module's
// lifecycle is Provision → Validate (before traffic) → Stop (in ordered
// shutdown, with a deadline). The service never names an adapter. It
// imports bus and bus/*.
package service
