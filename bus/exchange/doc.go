// Package exchange implements the seven-step store-and-forward exchange of
// the regulation (Art. 10, F1–F7) on top of the store, the vault and the
// route set, independent of any wire protocol: the REST adapter and the SOAP
// adapter call the same Service.
//
// Zero retention (R2): payloads live only as chunks encrypted under a
// per-exchange data key. When every recipient has reached a final state (or
// the exchange expires, fails a route step or is cancelled) the chunks and
// the wrapped key are deleted in one transaction; only metadata — who, when,
// sizes, SHA-256, outcome — remains in the ledger.
//
// It imports bus, bus/store, bus/vault, bus/route and bus/notify (for the
// wake-up of live subscribers); never adapters/ or bus/service.
package exchange
