package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// openForCmd parses a subcommand's flags (the database settings every
// subcommand accepts, plus extra) and opens the app.
func openForCmd(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*app.App, *flag.FlagSet, error) {
	cfg, fs, err := configForCmd(name, args, getenv, stderr, extra)
	if err != nil {
		return nil, nil, err
	}
	a, err := app.Open(ctx, cfg, app.NewLogger(stderr, cfg.Level()), app.Options{})
	if err != nil {
		return nil, nil, err
	}
	return a, fs, nil
}

// configForCmd parses a subcommand's flags (the database settings every
// subcommand accepts, plus extra) into the configuration, opening nothing.
func configForCmd(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (app.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", firstNonEmpty(getenv("DATA_DIR"), "data"), "data directory (DATA_DIR)")
	dbPath := fs.String("db-path", getenv("DB_PATH"), "database file (DB_PATH)")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return app.Config{}, nil, &exitError{2, err}
	}
	env := func(k string) string {
		switch k {
		case "DATA_DIR":
			return *dataDir
		case "DB_PATH":
			return *dbPath
		}
		return getenv(k)
	}
	cfg, err := app.ParseConfig(name, nil, env, stderr)
	if err != nil {
		return app.Config{}, nil, &exitError{2, fmt.Errorf("configuration: %w", err)}
	}
	return cfg, fs, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, _, err := openForCmd(ctx, "migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	names, err := a.DB.Applied(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is at migration %s (%d applied)\n", a.Cfg.Database(), names[len(names)-1], len(names))
	return nil
}

// cliContext marks changes made from the command line in the audit trail.
func cliContext(ctx context.Context) context.Context {
	return audit.WithOrigin(ctx, audit.Origin{ActorName: "cli", ActorRole: "operator", ClientIP: "local"})
}

// inputError marks the errors that are the input's fault (a password too
// short, a name taken, no such user, the last admin) with exit status 2;
// anything else stays 1.
func inputError(err error) error {
	var ve *auth.ValidationError
	if errors.As(err, &ve) || errors.Is(err, auth.ErrUsernameTaken) || errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrLastAdmin) {
		return &exitError{2, err}
	}
	return err
}

func userCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New("user: want add, disable, enable, reset-password or reset-2fa\n" + usage)}
	}
	var username, role, name string
	a, _, err := openForCmd(ctx, "user "+args[0], args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&username, "username", "", "username")
		if args[0] == "add" {
			fs.StringVar(&role, "role", string(policy.Staff), policy.RoleNames())
			fs.StringVar(&name, "name", "", "display name")
		}
	})
	if err != nil {
		return err
	}
	defer a.Close()
	ctx = cliContext(ctx)
	if username == "" {
		return &exitError{2, errors.New("-username is required")}
	}
	readPassword := func() (string, error) {
		line, err := bufio.NewReader(io.LimitReader(stdin, 1024)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", &exitError{2, errors.New("no password on stdin (example: echo 'a long passphrase' | web user add ...)")}
		}
		return line, nil
	}
	switch args[0] {
	case "add":
		r, err := auth.ParseRole(role)
		if err != nil {
			return &exitError{2, err}
		}
		pw, err := readPassword()
		if err != nil {
			return err
		}
		before, err := a.Auth.CountUsers(ctx)
		if err != nil {
			return err
		}
		u, err := a.Auth.CreateUser(ctx, username, name, r, pw, false)
		if err != nil {
			return inputError(err)
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", u.Username, u.Role)
		if before == 0 {
			// The first start creates "admin" only in an empty database.
			fmt.Fprintf(stderr, "note: this is the desk's first user, so the app will not create the \"admin\" user on its first start\n")
			if r != policy.Admin {
				fmt.Fprintf(stderr, "warning: no administrator exists, so nobody can manage users in the web UI; add one with: web user add -username NAME -role admin\n")
			}
		}
	case "disable", "enable":
		u, err := a.Auth.UserByUsername(ctx, username)
		if err != nil {
			return inputError(fmt.Errorf("user %q: %w", username, err))
		}
		if err := a.Auth.SetDisabled(ctx, u.ID, args[0] == "disable"); err != nil {
			return inputError(err)
		}
		fmt.Fprintf(stdout, "%sd %s\n", args[0], u.Username)
	case "reset-password":
		u, err := a.Auth.UserByUsername(ctx, username)
		if err != nil {
			return inputError(fmt.Errorf("user %q: %w", username, err))
		}
		pw, err := readPassword()
		if err != nil {
			return err
		}
		if err := a.Auth.ResetPassword(ctx, u.ID, pw, false); err != nil {
			return inputError(err)
		}
		fmt.Fprintf(stdout, "password reset for %s; their sessions have ended\n", u.Username)
	case "reset-2fa":
		// The recovery when every factor is lost (admins included): the
		// operator with access to the server removes it, and the printed
		// link lets the user set up a new one after signing in with their
		// password, even where the role requires a second factor.
		u, err := a.Auth.UserByUsername(ctx, username)
		if err != nil {
			return inputError(fmt.Errorf("user %q: %w", username, err))
		}
		if err := a.Auth.ResetSecondFactor(ctx, u.ID); err != nil {
			return inputError(err)
		}
		token, err := a.Auth.IssueEnrolLink(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "second factor reset for %s; their sessions have ended\n", u.Username)
		fmt.Fprintf(stdout, "enrolment link (single use, 24 hours; give it only to %s):\n\n    %s%s\n", u.Username, a.Cfg.BaseURL, auth.EnrolLinkPath(token))
	default:
		return &exitError{2, fmt.Errorf("user: unknown action %q", args[0])}
	}
	return nil
}
