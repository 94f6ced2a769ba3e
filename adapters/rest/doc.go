// Package rest is the LGSP REST API for connected systems: the seven-step
// exchange (F1–F7) as JSON over HTTP, signed with LGSP-HMAC-SHA256, with
// streamed, resumable uploads and range downloads, and live notifications
// over Server-Sent Events and WebSocket (C5). It also holds Client, the Go
// client that the CLI and the load generator use — it signs exactly as any
// integrator would (docs/auth.md, docs/exchange.md).
//
// It registers itself with bus/service from init(); it imports bus,
// bus/service and bus/* packages, never another adapter.
package rest
