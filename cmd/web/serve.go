package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// serve runs the web server until ctx is cancelled.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := app.ParseConfig("web", args, getenv, stderr)
	if err != nil {
		return &exitError{2, fmt.Errorf("configuration: %w", err)}
	}
	logger := app.NewLogger(stderr, cfg.Level())
	a, err := app.Open(ctx, cfg, logger, app.Options{})
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
