// Package metrics holds the node's Prometheus collectors (M3) and the small
// hooks other packages call to feed them: requests, signature failures,
// exchange transitions, bytes, deliveries, gateway polls and store latency.
//
// Every label set is bounded: routes are mux patterns or route-file names,
// codes come from the error catalogue, targets are registered system codes,
// kinds and outcomes are fixed words. No exchange id, document id or
// payload value is ever a label. The hooks are package functions so that a
// package low in the import order (or a store wrapper) can call them
// without being handed a registry.
package metrics
