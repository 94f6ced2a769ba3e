// Package bus is the kernel of LGSP: the vocabulary every other package shares.
//
// It owns the error catalogue (stable codes with Vietnamese and English
// messages), identifier codes of connected systems, the Message that a route
// carries, the Step interface with its registry, the shared retry policy and
// the goroutine group used for ordered shutdown.
//
// It imports only the standard library. Sub-packages of bus (store, auth,
// route, …) import bus; nothing in bus imports them, and nothing under bus/
// ever imports adapters/.
package bus
