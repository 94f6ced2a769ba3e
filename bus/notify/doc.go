// Package notify is the real-time notification service (C5): it tells
// systems about exchanges that concern them as soon as the ledger records a
// change.
//
// The ledger in the store is the single source of truth. A Feed tails it
// (woken at once by local writes, polling for other nodes' writes) and hands
// each event to a Hub, which fans it out to live subscribers — the REST
// adapter serves them over SSE and WebSocket — with bounded buffers: a
// subscriber that cannot keep up is dropped and resumes from the ledger with
// its last event id. Webhooks go through the durable outbox with the shared
// retry policy and are signed like any LGSP request.
//
// It imports bus, bus/store and bus/auth.
package notify
