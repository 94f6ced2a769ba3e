// Package console is the operators' web console (issue #12; M3, M6, R7):
// server-rendered pages under /console/ (html/template, assets embedded
// with embed, no CDN), Vietnamese by default and English with ?lang=en or
// the language cookie, responsive and accessible (labels, skip link,
// keyboard focus, contrast).
//
// Every page and form goes through people.Service.Guard with the action it
// performs, so the session, the CSRF token of state changes and the role
// are checked on the server; handlers that touch one unit's object (a
// system, its keys, its exchanges, its deliveries) check that unit again
// with Allow, so that a unit operator sees and acts on only the unit's own
// systems (M6) by URL as well as by the menu.
//
// The console re-implements no business rule: it calls the same Go
// functions the admin API calls — auth.Registry and auth.Grants for
// systems, keys and grants, delivery.Ops for dead letters, report.Build
// and report.Write for reports (R7), activity.Verify and the store's
// ListActivity for the activity log, people.Service for people — and reads
// the overview from the statistics rollups and the backlog counters, never
// from a scan of raw exchanges. Charts are drawn by Chart.js, bundled under
// assets/vendor (assets/update.sh re-fetches the pinned version).
//
// The package sits just above bus/service in docs/architecture.md's order
// (it imports bus/people, bus/auth, bus/delivery, bus/report, bus/activity,
// bus/route, bus/store, never bus/service or an adapter); bus/service
// builds it with what it needs (Options) and mounts it.
package console
