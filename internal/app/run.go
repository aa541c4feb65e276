package app

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Run is the server: lock the database for this process, open it, start
// NeoX (or the sandbox), listen on cfg.Addr, create the first admin and
// serve until ctx is cancelled. cmd/web and the crash tests' child process
// both run exactly this.
//
// The listener is bound before the first admin is created, so a start that
// cannot listen (port taken, bad address) creates nothing, and the next
// start that can listen creates the admin and shows its password.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	logger := NewLogger(stderr, cfg.Level())
	// One server per SQLite file; on PostgreSQL several instances share the
	// database, and the worker's leases keep them from sending twice.
	if !cfg.Postgres() {
		release, err := store.LockServer(cfg.DBPath)
		if err != nil {
			return err
		}
		defer release()
	}
	a, err := Open(ctx, cfg, logger, Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	// On SQLite the lock above makes this the only worker on the database:
	// claims left in SENDING are a dead process's, taken over at once. On
	// PostgreSQL another instance may hold them: only expired leases are.
	if err := a.StartNeoX(refunds.Options{SoleWorker: !cfg.Postgres()}); err != nil {
		return err
	}
	h, password, err := a.Prepare(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Refund Desk is listening on %s (NeoX mode: %s, database: %s)\n", cfg.BaseURL, cfg.NeoXMode, cfg.Database())
	if password != "" {
		fmt.Fprintf(stdout, "\nFirst start: created user \"admin\" with one-time password:\n\n    %s\n\n"+
			"Sign in and choose a new password. This is the only time it is shown; if it is lost, set another with\n"+
			"    web user reset-password -username admin   (password on stdin)\n\n", password)
	}
	return a.Serve(ctx, ln, h)
}
