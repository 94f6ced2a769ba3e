// Package schedule owns cron specs and periodic jobs of LGSP.
//
// Every spec is read by Parse in the time zone Asia/Ho_Chi_Minh (Location)
// unless it starts with CRON_TZ= or TZ=. Parse accepts five fields, six
// fields (with seconds first) and descriptors such as @daily or @every 90s,
// turns the panics of robfig/cron v3.0.1 on malformed time-zone prefixes
// into errors, and refuses specs that can never fire (0 0 30 2 *), which the
// library would otherwise accept and then never run.
//
// Runner runs the service's periodic jobs (janitors, pollers): runs of one
// job never overlap, a panicking job is logged and runs again at its next
// time, and Stop cancels the jobs' context and waits for them.
//
// Durable wraps a Runner for clusters: a lease per job in the store
// (LeaseStore, implemented by bus/store) lets one node run each firing,
// and the last run of each job is kept so that a schedule missed during a
// downtime fires once at the next start (CatchUp). Gateway pollers use it.
//
// It imports bus-level code only (nothing from bus/service or adapters/)
// besides robfig/cron/v3 and logrus.
package schedule
