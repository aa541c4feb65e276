package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// migrateToPostgresCmd copies the SQLite desk (DATA_DIR / DB_PATH) into
// the empty PostgreSQL database named by -to (default DATABASE_URL): every
// table, in one transaction on the target, and then verifies the audit
// chain there. Stop the server first: a copy of a desk that is still
// changing would miss what happens during it.
func migrateToPostgresCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var to string
	// The source is the SQLite file whatever DATABASE_URL says: that is
	// the target's default here, never the source.
	srcEnv := func(k string) string {
		if k == "DATABASE_URL" {
			return ""
		}
		return getenv(k)
	}
	a, _, err := openForCmd(ctx, "migrate-to-postgres", args, srcEnv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", getenv("DATABASE_URL"), "the target PostgreSQL database, postgres://... (DATABASE_URL)")
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if to == "" {
		return &exitError{2, errors.New("migrate-to-postgres: name the target with -to postgres://... or DATABASE_URL")}
	}
	if err := store.CheckPostgresURL(to); err != nil {
		return &exitError{2, fmt.Errorf("-to: %w", err)}
	}
	dst, err := store.OpenPostgres(ctx, to, store.PoolConfig{MaxConns: 2})
	if err != nil {
		return err
	}
	defer dst.Close()
	start := time.Now()
	counts, err := store.CopyToPostgres(ctx, a.DB, dst, copyProgress(stderr))
	if errors.Is(err, store.ErrTargetNotEmpty) {
		return &exitError{2, fmt.Errorf("%s: %w", store.RedactURL(to), err)}
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s (nothing was kept in the target): %w", a.Cfg.DBPath, store.RedactURL(to), err)
	}
	for _, c := range counts {
		src, err := a.DB.CountRows(ctx, c.Table)
		if err != nil {
			return err
		}
		if src != c.Rows {
			return fmt.Errorf("table %s: %d rows in the source, %d copied", c.Table, src, c.Rows)
		}
		fmt.Fprintf(stdout, "%-24s %d rows\n", c.Table, c.Rows)
	}
	fmt.Fprintf(stdout, "copied %s to %s in %s\n", a.Cfg.DBPath, store.RedactURL(to), time.Since(start).Round(time.Millisecond))
	st, err := audit.New(dst, time.Now).Verify(ctx, audit.Anchor{})
	if err != nil {
		return err
	}
	if !st.OK {
		return &exitError{1, fmt.Errorf("audit chain on the target BROKEN at event %d: %s (verified up to event %d)", st.BrokenSeq, st.Problem, st.VerifiedSeq)}
	}
	fmt.Fprintf(stdout, "audit chain on the target OK: %d events, verified up to event %d\n", st.Count, st.VerifiedSeq)
	fmt.Fprintf(stdout, "next: start Refund Desk with DATABASE_URL set to the target; keep %s as the backup of the desk before the move\n", a.Cfg.DBPath)
	return nil
}

// copyProgress prints a copy's progress lines for the operator: a table
// under way every few seconds, each table done, each index rebuilt.
func copyProgress(w io.Writer) func(store.CopyProgress) {
	return func(p store.CopyProgress) {
		switch {
		case p.Note != "":
			fmt.Fprintf(w, "note: %s\n", p.Note)
		case p.Index != "" && !p.Done && p.Total >= 100000:
			fmt.Fprintf(w, "index %s on %s: building\n", p.Index, p.Table)
		case p.Index != "" && p.Done:
			fmt.Fprintf(w, "index %s on %s: built in %s\n", p.Index, p.Table, p.Elapsed.Round(100*time.Millisecond))
		case p.Done && p.Rows > 0:
			fmt.Fprintf(w, "%-24s %d rows copied in %s (%s rows/s)\n", p.Table, p.Rows, p.Elapsed.Round(100*time.Millisecond), copyRate(p))
		case !p.Done && p.Rows > 0:
			fmt.Fprintf(w, "%-24s %d of %d rows (%d%%), %s rows/s\n", p.Table, p.Rows, p.Total, p.Rows*100/max(p.Total, 1), copyRate(p))
		case !p.Done && p.Total >= 100000:
			fmt.Fprintf(w, "%-24s copying %d rows\n", p.Table, p.Total)
		}
	}
}

func copyRate(p store.CopyProgress) string {
	if p.Elapsed < time.Millisecond {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(p.Rows)/p.Elapsed.Seconds())
}
