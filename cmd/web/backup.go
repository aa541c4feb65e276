package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// backupCmd writes a consistent copy of the SQLite desk to -to while the
// server may be running, checks the copy (integrity_check and the audit
// chain) and only then puts it in place under its name, never over an
// existing file. A copy that fails its checks is removed: a backup that
// cannot be restored is worse than none, because it is trusted.
func backupCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var to string
	// Decide about PostgreSQL before opening anything: the command must
	// not connect to it, migrate it or write its startup rows.
	if url := getenv("DATABASE_URL"); url != "" {
		return &exitError{2, fmt.Errorf("backup: DATABASE_URL names PostgreSQL (%s); back it up with pg_dump, e.g. "+
			"pg_dump --format=custom --file=refunddesk.dump \"$DATABASE_URL\" (README, Backups)", store.RedactURL(url))}
	}
	// The database is not opened as the app: a backup migrates nothing and
	// records nothing, so a newer binary can back up a running older server.
	cfg, _, err := configForCmd("backup", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "write the copy to this new file (it must not exist)")
	})
	if err != nil {
		return err
	}
	if to == "" {
		return &exitError{2, errors.New("backup: name the new file with -to FILE")}
	}
	if _, err := os.Stat(cfg.DBPath); err != nil {
		return &exitError{2, fmt.Errorf("backup: no database at %s (set DATA_DIR or DB_PATH): %w", cfg.DBPath, err)}
	}
	if _, err := os.Lstat(to); err == nil {
		return &exitError{2, fmt.Errorf("backup: %s already exists; backup never overwrites a file (choose a new name, e.g. with the date)", to)}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return &exitError{2, fmt.Errorf("backup: -to %s: %w", to, err)}
	}
	// The copy is written beside the target under a temporary name (0600:
	// it holds session keys and password hashes) and linked into place
	// once checked, so a failed or interrupted backup leaves nothing that
	// looks like a backup.
	tmp, err := os.CreateTemp(filepath.Dir(to), "."+filepath.Base(to)+".partial-*")
	if err != nil {
		return &exitError{2, fmt.Errorf("backup: -to %s: %w", to, err)}
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	start := time.Now()
	if err := store.Backup(ctx, cfg.DBPath, tmp.Name()); err != nil {
		return fmt.Errorf("backup failed, nothing written to %s: %w", to, err)
	}
	sum, err := checkCopy(ctx, tmp.Name())
	if err != nil {
		return fmt.Errorf("backup FAILED its checks, nothing written to %s: %w", to, err)
	}
	if f, err := os.Open(tmp.Name()); err == nil {
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("backup: sync the copy: %w", err)
		}
	}
	// A hard link never replaces a file that appeared meanwhile; where the
	// file system has none (some network mounts), a rename after checking.
	if err := os.Link(tmp.Name(), to); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &exitError{2, fmt.Errorf("backup: %s appeared while the copy was made; not overwritten", to)}
		}
		if _, serr := os.Lstat(to); !errors.Is(serr, fs.ErrNotExist) {
			return &exitError{2, fmt.Errorf("backup: %s appeared while the copy was made; not overwritten", to)}
		}
		if rerr := os.Rename(tmp.Name(), to); rerr != nil {
			return fmt.Errorf("backup: put the copy in place as %s: %w", to, errors.Join(err, rerr))
		}
	}
	if d, err := os.Open(filepath.Dir(to)); err == nil {
		_ = d.Sync() // the new name survives a crash
		d.Close()
	}
	fmt.Fprintf(stdout, "backup %s: %d bytes, %d refunds, %d audit events, integrity ok, audit chain ok (up to event %d), in %s\n",
		to, sum.size, sum.refunds, sum.events, sum.verifiedSeq, time.Since(start).Round(time.Millisecond))
	return nil
}

type copySummary struct {
	size                         int64
	refunds, events, verifiedSeq int64
}

// checkCopy opens the copy read-only and checks what a restore relies on.
func checkCopy(ctx context.Context, path string) (copySummary, error) {
	var s copySummary
	fi, err := os.Stat(path)
	if err != nil {
		return s, err
	}
	s.size = fi.Size()
	db, err := store.OpenCopy(ctx, path)
	if err != nil {
		return s, err
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		return s, err
	}
	if s.refunds, err = db.CountRows(ctx, "refunds"); err != nil {
		return s, fmt.Errorf("count refunds in the copy: %w", err)
	}
	if s.events, err = db.CountRows(ctx, "audit_events"); err != nil {
		return s, fmt.Errorf("count audit events in the copy: %w", err)
	}
	st, err := audit.New(db, time.Now).Verify(ctx, audit.Anchor{})
	if err != nil {
		return s, fmt.Errorf("verify the audit chain of the copy: %w", err)
	}
	if !st.OK {
		return s, fmt.Errorf("the copy's audit chain is BROKEN at event %d: %s (run web audit verify on the live database)", st.BrokenSeq, st.Problem)
	}
	s.verifiedSeq = st.VerifiedSeq
	return s, nil
}
