package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
)

// auditOpts are the flags of the audit subcommands.
type auditOpts struct {
	from, to       string // export
	checkpointFile string // verify
	out            string // checkpoint
	keyFile        string // verify, checkpoint
}

func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New("audit: want verify, export or checkpoint")}
	}
	var o auditOpts
	switch args[0] {
	case "verify", "export", "checkpoint":
	default:
		return &exitError{2, fmt.Errorf("audit: unknown action %q (want verify, export or checkpoint)", args[0])}
	}
	a, _, err := openForCmd(ctx, "audit "+args[0], args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		switch args[0] {
		case "export":
			fs.StringVar(&o.from, "from", "", "start time, RFC 3339")
			fs.StringVar(&o.to, "to", "", "end time, RFC 3339")
		case "verify":
			fs.StringVar(&o.checkpointFile, "checkpoint", "", "a checkpoint file (from audit checkpoint) or a CSV export: fail if the trail no longer reaches its head")
			fs.StringVar(&o.keyFile, "key-file", "", "file holding the checkpoint key (default: AUDIT_CHECKPOINT_KEY)")
		case "checkpoint":
			fs.StringVar(&o.out, "out", "", "write the checkpoint to this file (default: stdout)")
			fs.StringVar(&o.keyFile, "key-file", "", "file holding the checkpoint key (default: AUDIT_CHECKPOINT_KEY)")
		}
	})
	if err != nil {
		return err
	}
	defer a.Close()
	ctx = cliContext(ctx)
	switch args[0] {
	case "verify":
		return auditVerify(ctx, a, o, getenv, stdout)
	case "export":
		return auditExport(ctx, a, o, stdout, stderr)
	default:
		return auditCheckpoint(ctx, a, o, getenv, stdout, stderr)
	}
}

// checkpointKey reads the signing key: from -key-file if given, else from
// AUDIT_CHECKPOINT_KEY. The key is never a flag value (it would show in
// ps and shell history) and never stored in the database: a checkpoint is
// only worth something if whoever can rewrite the database cannot sign.
func checkpointKey(keyFile string, getenv func(string) string) ([]byte, error) {
	var key []byte
	source := "AUDIT_CHECKPOINT_KEY"
	if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, &exitError{2, fmt.Errorf("-key-file: %w", err)}
		}
		key, source = bytes.TrimRight(b, " \t\r\n"), "-key-file "+keyFile
	} else {
		key = []byte(getenv("AUDIT_CHECKPOINT_KEY"))
	}
	if len(key) == 0 {
		return nil, &exitError{2, errors.New("no checkpoint key: set AUDIT_CHECKPOINT_KEY or give -key-file FILE " +
			"(at least 32 bytes, e.g. from `openssl rand -hex 32`; keep it away from the database and its backups)")}
	}
	if len(key) < audit.MinCheckpointKeyLen {
		return nil, &exitError{2, fmt.Errorf("the checkpoint key from %s is %d bytes; it must be at least %d", source, len(key), audit.MinCheckpointKeyLen)}
	}
	return key, nil
}

func auditVerify(ctx context.Context, a *app.App, o auditOpts, getenv func(string) string, stdout io.Writer) error {
	// Read the checkpoint first: a bad file or key is a usage error, found
	// before minutes of verification.
	var seen audit.Head
	var seenWhat string
	if o.checkpointFile != "" {
		var err error
		if seen, seenWhat, err = readSeenHead(o.checkpointFile, o.keyFile, getenv); err != nil {
			return err
		}
	} else if o.keyFile != "" {
		return &exitError{2, errors.New("-key-file is only used with -checkpoint")}
	}
	st, err := a.Audit.Verify(ctx, audit.Anchor{})
	if err != nil {
		return err
	}
	if !st.OK {
		return &exitError{1, fmt.Errorf("audit chain BROKEN at event %d: %s (verified up to event %d)", st.BrokenSeq, st.Problem, st.VerifiedSeq)}
	}
	ok := fmt.Sprintf("audit chain OK: %d events, verified up to event %d at %s\n", st.Count, st.VerifiedSeq, st.VerifiedAt.UTC().Format(time.RFC3339))
	if o.checkpointFile == "" {
		fmt.Fprint(stdout, ok)
		return nil
	}
	// "OK" is printed only once the head kept elsewhere agrees: a cut
	// trail verifies on its own, and saying so first would mislead.
	err = a.Audit.CheckHead(ctx, st, seen)
	var m *audit.HeadMismatch
	switch {
	case errors.As(err, &m) && errors.Is(err, audit.ErrTruncated):
		return &exitError{1, fmt.Errorf("the audit trail ends at seq %d but %s %s saw seq %d: events were deleted "+
			"(what remains verifies on its own; database %s)", m.TrailSeq, seenWhat, o.checkpointFile, m.Seen.Seq, a.Cfg.Database())}
	case errors.As(err, &m):
		return &exitError{1, fmt.Errorf("event %d's hash is not the one %s %s saw: the trail was rewritten at or before event %d (database %s)",
			m.Seen.Seq, seenWhat, o.checkpointFile, m.Seen.Seq, a.Cfg.Database())}
	case err != nil:
		return err
	}
	fmt.Fprint(stdout, ok)
	fmt.Fprintf(stdout, "%s %s matches: event %d is in the trail with the same hash, so nothing up to it was deleted or rewritten\n",
		seenWhat, o.checkpointFile, seen.Seq)
	return nil
}

// readSeenHead reads the head kept in file: a signed checkpoint (JSON,
// checked under the key), or the trailer of a CSV export (unsigned).
func readSeenHead(file, keyFile string, getenv func(string) string) (audit.Head, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return audit.Head{}, "", &exitError{2, fmt.Errorf("-checkpoint: %w", err)}
	}
	defer f.Close()
	var first [1]byte
	for {
		if _, err := io.ReadFull(f, first[:]); err != nil {
			return audit.Head{}, "", &exitError{2, fmt.Errorf("-checkpoint %s: empty file", file)}
		}
		if !strings.ContainsRune(" \t\r\n", rune(first[0])) {
			break
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return audit.Head{}, "", err
	}
	if first[0] != '{' {
		h, err := audit.ReadExportHead(f)
		if err != nil {
			return audit.Head{}, "", &exitError{2, fmt.Errorf("-checkpoint %s is neither a checkpoint (JSON) nor a complete export: %w", file, err)}
		}
		return h, "export", nil
	}
	key, err := checkpointKey(keyFile, getenv)
	if err != nil {
		return audit.Head{}, "", err
	}
	cp, err := audit.ParseCheckpoint(f, key)
	switch {
	case errors.Is(err, audit.ErrCheckpointSignature):
		// Not a usage error: the evidence itself does not hold.
		return audit.Head{}, "", &exitError{1, fmt.Errorf("checkpoint %s: %w", file, err)}
	case err != nil:
		return audit.Head{}, "", &exitError{2, fmt.Errorf("checkpoint %s: %w", file, err)}
	}
	return cp.Head(), "checkpoint", nil
}

func auditExport(ctx context.Context, a *app.App, o auditOpts, stdout, stderr io.Writer) error {
	var f audit.Filter
	for _, p := range []struct {
		v   string
		dst *time.Time
	}{{o.from, &f.From}, {o.to, &f.To}} {
		if p.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, p.v)
		if err != nil {
			return &exitError{2, fmt.Errorf("%q is not an RFC 3339 time (example: 2026-11-01T00:00:00+07:00)", p.v)}
		}
		*p.dst = t
	}
	n, err := a.Audit.ExportCSV(ctx, stdout, f)
	if err != nil {
		return err
	}
	if err := a.Audit.RecordNow(ctx, audit.Event{Action: audit.ActionAuditExport, Outcome: audit.OutcomeSuccess,
		TargetType: "audit", Details: map[string]any{"rows": n, "from": o.from, "to": o.to, "via": "cli"}}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d events\n", n)
	return nil
}

// auditCheckpoint writes a signed checkpoint of the chain head to -out (a
// temporary file renamed into place once the checkpoint's audit event has
// committed) or to stdout.
func auditCheckpoint(ctx context.Context, a *app.App, o auditOpts, getenv func(string) string, stdout, stderr io.Writer) error {
	key, err := checkpointKey(o.keyFile, getenv)
	if err != nil {
		return err
	}
	var tmp *os.File
	if o.out != "" {
		if fi, err := os.Stat(o.out); err == nil && fi.IsDir() {
			return &exitError{2, fmt.Errorf("-out %s is a directory; give a file name", o.out)}
		}
		tmp, err = os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".*")
		if err != nil {
			return &exitError{2, fmt.Errorf("-out %s: %w", o.out, err)}
		}
		defer os.Remove(tmp.Name()) // no-op once renamed
		defer tmp.Close()
	}
	var buf bytes.Buffer
	cp, err := a.Audit.WriteCheckpoint(ctx, key, map[string]any{"via": "cli", "out": o.out}, func(cp audit.Checkpoint) error {
		if tmp == nil {
			buf.Write(cp.Marshal())
			return nil
		}
		if _, err := tmp.Write(cp.Marshal()); err != nil {
			return fmt.Errorf("-out %s: %w", o.out, err)
		}
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("-out %s: %w", o.out, err)
		}
		return tmp.Close()
	})
	if errors.Is(err, audit.ErrChainBroken) {
		return &exitError{1, fmt.Errorf("no checkpoint written: %w", err)}
	}
	if err != nil {
		return err
	}
	if tmp == nil {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	if err := os.Rename(tmp.Name(), o.out); err != nil {
		return fmt.Errorf("checkpoint of event %d recorded, but -out %s: %w", cp.Seq, o.out, err)
	}
	fmt.Fprintf(stderr, "checkpoint of event %d (hash %s) written to %s; keep a copy where the database's administrators cannot change it\n",
		cp.Seq, cp.Hash, o.out)
	return nil
}
