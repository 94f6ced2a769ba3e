// Command lgsp is the LGSP platform: `lgsp serve` runs a node; the other
// subcommands manage routes, systems and keys, and act as an exchange client
// for integrators. It only parses flags and calls into bus/service, bus/*
// and the adapters.
package main
