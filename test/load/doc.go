// Command load is the load generator of issues R3 and R4: it drives a running
// LGSP node over its REST API the way connected systems do and prints what
// the node sustains.
//
// It registers -systems systems (000.00.01.H60, 000.00.02.H60, …) through
// the admin API, issues a fresh key for each (an existing system is reused),
// then runs one of these modes (service, soap and deliveries: docs/load.md):
//
//	cycle  -c workers each loop the full F1–F7 exchange: the sender
//	       connects, requests, uploads -size bytes and completes; the
//	       recipient sees it (inbox polling, or SSE with -notify sse), says
//	       ready, downloads and checks the bytes, and confirms. Each step's
//	       latency is recorded apart, with the whole cycle.
//	hold   -conns separate keep-alive TCP connections, each looping signed
//	       GET /v1/inbox and POST /v1/connect (R4: at least 1,000 systems
//	       connected at once, no answer slower than 30 s). With -rate R the
//	       loop is open instead: each connection polls GET /v1/inbox every
//	       conns/R seconds on a fixed schedule, whatever the answers, and
//	       latency counts from the scheduled time (issue #13: 10,000
//	       systems polling every 5 s: all served, p99 < 1 s, RSS < 1 GB).
//	fanout -conns live SSE subscriptions (GET /v1/events, signed) spread
//	       over systems 2…N; -notifications exchanges from system 1 to
//	       all of them, one at a time; for each, the delay from the
//	       complete call to the "notified" event at every subscriber, and
//	       the node's RSS before and after subscribing (issue #13).
//	big    one exchange of -big-size bytes streamed from a deterministic
//	       generator (never held in memory) up and down again, reporting
//	       MB/s and the server's memory growth.
//	slowloris -conns connections send a request head and then one body
//	       byte every -drip (half POST /token, half /soap/edoc declaring
//	       -big-size bytes), reconnecting when dropped, while -c workers send
//	       signed requests: every signed request must succeed under 30 s.
//
// With -pid it samples the server's /proc/PID/stat and /proc/PID/status
// every 50 ms for its CPU use and resident memory. The cycle mode drives
// several nodes at once with -url a,b,… (system i talks to node i mod n;
// the admin setup goes to the first) and -pid pa,pb,… in the same order. The last line printed is
// the result as JSON, prefixed "RESULT ". The exit status is 1 when a mode's
// target is missed (errors, an answer of 30 s or more, memory growth of
// 64 MB or more in big mode).
//
// -routes-out DIR writes a route file like the shipped van-ban route but
// allowing 200 MiB, for the big mode, and exits; start the node with
// LGSP_ROUTES_DIR=DIR. docs/load.md has the commands and measured results.
//
// Usage:
//
//	go run ./test/load -mode cycle -c 64 -duration 20s -pid $(pgrep -n lgsp)
//	go run ./test/load -mode cycle -c 64 -notify sse -url http://a:8080,http://b:8080 -pid 101,102
//	go run ./test/load -mode hold -conns 1000 -duration 20s
//	go run ./test/load -mode hold -systems 99 -conns 10000 -rate 2000 -duration 30s
//	go run ./test/load -mode fanout -systems 99 -conns 10000 -notifications 20
//	go run ./test/load -mode big -big-size 104857600
//	go run ./test/load -mode slowloris -conns 300 -c 8 -big-size 44000000 -duration 60s
//	go run ./test/load -mode deliveries -systems 11 -c 16 -duration 15s -size 2048
package main
