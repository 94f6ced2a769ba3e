// Package alert checks the alert rules (R6, M3) and sends their messages
// through the configured channels: a signed webhook, e-mail over SMTP
// (STARTTLS and authentication) and the log.
//
// Rules about the shared database (dead deliveries, failing destinations,
// backlog, expiring keys) are checked by whichever node holds the
// "alerts" job lease for that round, so several nodes never send the same
// message twice; rules about what one node sees (bad signatures by key or
// address, a gateway poller failing) are checked by that node and keyed by
// its name. Firing alerts live in the store (store.AlertStore): an alert
// fires once, repeats every Repeat while it holds and sends "resolved"
// once when it stops. Messages are in Vietnamese and English and name only
// codes, counts and times, never payload values.
package alert
