//go:build !lgsp_testhooks

package exchange

// crashpoint marks a place where a test binary can stop the process (see
// crash_on.go); in a normal build it does nothing and costs nothing.
func crashpoint(string) {}

// settleInConfirm: the last confirmation purges in its own transaction.
const settleInConfirm = true
