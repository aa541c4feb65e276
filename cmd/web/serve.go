package main

import (
	"context"
	"fmt"
	"io"

	"github.com/neox-refund-desk/refunddesk/internal/app"
)

// serve runs the web server until ctx is cancelled.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := app.ParseConfig("web", args, getenv, stderr)
	if err != nil {
		return &exitError{2, fmt.Errorf("configuration: %w", err)}
	}
	return app.Run(ctx, cfg, stdout, stderr)
}
