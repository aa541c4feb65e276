// Package crashtest kills the real server with SIGKILL in the middle of
// the refund pipeline and checks, after restarts, that every approved refund
// reaches a final state exactly once under its one request id.
//
// The server runs in a child process: the test binary re-executes itself
// with REFUNDDESK_CRASH_CHILD=1, and TestMain runs internal/app.Run there,
// the same code path as `go run ./cmd/web`. NeoX is a sandbox in the parent,
// so it outlives the kills and can count what reached it.
package crashtest
