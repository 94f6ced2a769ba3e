// Package people owns the people of the operators' console (issue #12, M1,
// M2, M3, M6): their accounts (a login, the unit they belong to, roles that
// match the regulation's duties), passwords hashed with argon2id, an
// optional TOTP second factor (RFC 6238), lockout with backoff per account
// and per client address, and console sessions kept in the store so that
// any node of a cluster accepts them.
//
// Service is the one gate every console page and every people-facing API
// goes through: Current finds the person of a request's session cookie,
// Can decides (deny by default) whether a person may take an action on a
// unit, and Guard wraps a handler with the session, the CSRF check on state
// changes, the role check and an activity-log entry naming the person.
// Handlers that touch one unit's object (a system, its keys, its
// exchanges) check that unit again with Allow: Guard alone only knows the
// person's own unit.
//
// The package sits just above bus/service in docs/architecture.md; it
// imports bus, bus/store, bus/vault, bus/activity and bus/auth (for the
// client address), never bus/service or an adapter: bus/service builds it
// and hands it its error writer and admission.
package people
