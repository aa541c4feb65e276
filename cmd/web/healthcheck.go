package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckCmd GETs /healthz on the server's own address (ADDR or
// -addr) and exits 0 only on a 200: the probe for Docker's HEALTHCHECK,
// since a scratch image has no curl. It opens no database.
func healthcheckCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", firstNonEmpty(getenv("ADDR"), "127.0.0.1:8080"), "the server's listen address (ADDR)")
	path := fs.String("path", "/healthz", "the path to GET: /healthz (alive) or /readyz (database usable)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *path != "/healthz" && *path != "/readyz" {
		return &exitError{2, fmt.Errorf("healthcheck: -path %q is not /healthz or /readyz", *path)}
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return &exitError{2, fmt.Errorf("healthcheck: ADDR %q is not host:port", *addr)}
	}
	// A server listening on every interface is reached on loopback.
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + *path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return &exitError{2, err}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode != http.StatusOK {
		return errors.New("healthcheck " + url + ": " + resp.Status + ": " + string(body))
	}
	fmt.Fprintf(stdout, "%s: %s", url, body)
	return nil
}
