//go:build lgsp_testhooks && unix

package exchange

import (
	"os"
	"syscall"
)

// crashAt names the crash point at which a test binary kills itself, as
// kill -9 would: no deferred calls, no flushing. Only binaries built with
// `-tags lgsp_testhooks` (the crash tests in test/ build one) read
// LGSP_TEST_CRASH_AT; a normal build has no crash point at all.
var crashAt = os.Getenv("LGSP_TEST_CRASH_AT")

// settleInConfirm is false for the crash point after-confirm-commit only:
// a normal build purges in the last confirmation's own transaction, so the
// window between confirmation and purge (left by a node of the previous
// version, which the sweeper closes) is opened on purpose there.
var settleInConfirm = crashAt != "after-confirm-commit"

func crashpoint(name string) {
	if crashAt == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; never return into the purge
	}
}
