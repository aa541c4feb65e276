// Command web is Refund Desk: the server and its operator subcommands.
//
//	web                       serve (default)
//	web migrate               apply database migrations and exit
//	web migrate-to-postgres -to URL   copy the SQLite desk into an empty PostgreSQL database, then verify its audit chain
//	web user add -username U -role R [-name N]   password from stdin
//	web user disable -username U
//	web user reset-password -username U          password from stdin
//	web user reset-2fa -username U               second factor removed, enrolment link printed
//	web audit verify          exit 1 and name the first bad row on a broken chain
//	web audit verify -checkpoint FILE   also exit 1 if events after FILE's head were cut off
//	web audit export          the audit trail as CSV on stdout, ending with the chain head
//	web audit checkpoint [-out FILE]    a signed checkpoint of the chain head (key: AUDIT_CHECKPOINT_KEY or -key-file)
//	web backup -to FILE       a checked copy of the SQLite database, taken while the server runs
//	web healthcheck           GET /healthz on ADDR; exit 1 unless it answers 200 (Docker HEALTHCHECK)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "refunddesk:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status. The convention, for every
// subcommand: 2 when the command was given something it cannot use (a
// flag, a role, a password too short, a user that does not exist, a name
// taken), 1 when it was fine but the work failed (a broken audit chain,
// an unreadable database).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 1
}

// run dispatches to the subcommand named by args.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || len(args[0]) > 0 && args[0][0] == '-' {
		return serve(ctx, args, getenv, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], getenv, stdout, stderr)
	case "migrate-to-postgres":
		return migrateToPostgresCmd(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return userCmd(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "audit":
		return auditCmd(ctx, args[1:], getenv, stdout, stderr)
	case "backup":
		return backupCmd(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		return healthcheckCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return &exitError{2, fmt.Errorf("unknown command %q\n%s", args[0], usage)}
}

const usage = `usage:
  web [flags]                                   serve (see -h for flags and their environment names)
  web migrate                                   apply database migrations
  web migrate-to-postgres [-to postgres://...]  copy the SQLite desk (DATA_DIR/DB_PATH) into an empty PostgreSQL
                                                database (default DATABASE_URL), then verify its audit chain
  web user add -username U -role staff|manager|admin [-name N]   (password on stdin)
  web user disable -username U
  web user enable -username U
  web user reset-password -username U            (password on stdin)
  web user reset-2fa -username U                 remove U's second factor, end their sessions and
                                                print a single-use enrolment link (24 h)
  web audit verify [-checkpoint FILE [-key-file K]]  check the audit hash chain (exit 1 if broken,
                                                or if it no longer reaches FILE's head: a checkpoint or an export)
  web audit export [-from RFC3339] [-to RFC3339] CSV of the audit trail on stdout, ending with the chain head
  web audit checkpoint [-out FILE] [-key-file K] signed checkpoint of the chain head (key: AUDIT_CHECKPOINT_KEY)
  web backup -to FILE                           consistent copy of the SQLite database while the server runs, then
                                                integrity_check and audit verify on the copy (never overwrites FILE)
  web healthcheck [-addr host:port]             GET /healthz on ADDR; exit 1 unless 200 (for Docker's HEALTHCHECK)

exit status: 0 done; 2 the command was given something it cannot use (fix the input);
1 the work failed (a broken audit chain, a database problem)`
