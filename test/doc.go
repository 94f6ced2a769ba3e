// Package test holds LGSP's tests that look at the system from outside
// rather than at one package from inside: black-box tests of the built
// service, interop tests against independent peers (xmlsec1, xmllint, zeep,
// node-soap under test/interop), load and fault tests, and the architecture
// test (arch_test.go) that enforces the import direction written in
// docs/architecture.md.
//
// Unit tests live beside the package they test. Everything here runs from
// the one test command, ./test/run.sh, which first makes sure the machine has
// what these tests need (Go, a reachable MariaDB, and the Debian and npm
// tools of the interop tests).
package test
