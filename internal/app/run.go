package app

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// Run is the server: open the database, start NeoX (or the sandbox), create
// the first admin, listen on cfg.Addr and serve until ctx is cancelled.
// cmd/web and the crash tests' child process both run exactly this.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	logger := NewLogger(stderr, cfg.Level())
	a, err := Open(ctx, cfg, logger, Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.StartNeoX(refunds.Options{}); err != nil {
		return err
	}
	h, password, err := a.Prepare(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	fmt.Fprintf(stdout, "Refund Desk is listening on %s (NeoX mode: %s, database: %s)\n", cfg.BaseURL, cfg.NeoXMode, cfg.DBPath)
	if password != "" {
		fmt.Fprintf(stdout, "\nFirst start: created user \"admin\" with one-time password:\n\n    %s\n\nSign in and choose a new password. This is the only time it is shown.\n\n", password)
	}
	return a.Serve(ctx, ln, h)
}
