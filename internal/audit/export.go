package audit

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// CSVHeader is the first record of ExportCSV.
var CSVHeader = []string{"seq", "time_utc", "actor_id", "actor_name", "actor_role", "action", "outcome",
	"target_type", "target_id", "client_ip", "user_agent", "request_id", "details", "prev_hash", "hash"}

// The last record of an export says how it ended. Both start with '#', so
// a reader configured for comment lines (csv.Reader.Comment = '#') skips
// them, and both have as many fields as CSVHeader (the rest empty), so a
// strict CSV reader still reads the file.
//
// A complete export ends with
//
//	# chain head,seq=N,hash=H,at=T,rows=R
//
// where N, H and T are the newest event of the whole trail when the export
// was read (not of the filtered view) and R the number of events written.
// ReadExportHead reads it back, and `audit verify -checkpoint FILE` checks
// the trail still reaches N with hash H.
//
// An export cut short by a database error ends with
//
//	# ERROR: export incomplete,<what happened>
//
// and has no chain-head record: a file without one is not a complete export.
const (
	TrailerHead  = "# chain head"
	TrailerError = "# ERROR: export incomplete"
)

// ErrExportIncomplete is returned (wrapped) by ExportCSV when a database
// error stopped the rows after the header: the error record has been
// written and flushed to w. It is also what ReadExportHead returns for a
// file ending with that record.
var ErrExportIncomplete = errors.New("audit: export incomplete")

// ExportCSV writes the events matching f to w as CSV, oldest first (so a
// full export can be re-verified row by row), with CSVHeader first and a
// trailer last (see TrailerHead). The chain head, the time range and the
// rows are read on one read snapshot, so the head is never older than a
// row in the file. Rows stream straight into an encoding/csv writer, so
// memory stays constant whatever the size. Cells that a spreadsheet would
// run as a formula (starting with = + - @ tab or CR) are prefixed with '.
// It returns the number of events written (header and trailer excluded).
//
// Errors before the first row (opening the snapshot, planning the query)
// leave w untouched. A database error while rows stream writes the
// TrailerError record, flushes, and returns an error matching
// ErrExportIncomplete. A failed write to w (a closed client) stops the
// export and is returned as is.
func (l *Log) ExportCSV(ctx context.Context, w io.Writer, f Filter) (int64, error) {
	var (
		cw      *csv.Writer
		n       int64
		head    Head
		rec     = make([]string, len(CSVHeader))
		outErr  error // a failed write to w: returned as is
		started bool  // the header is out: a database error now ends the file
	)
	err := l.db.AuditExport(ctx, f.storeFilter(0, 0), func(newest store.AuditHead) error {
		head = Head(newest)
		cw = csv.NewWriter(w)
		started = true
		if err := cw.Write(CSVHeader); err != nil {
			outErr = fmt.Errorf("audit: export: %w", err)
			return outErr
		}
		return nil
	}, func(r *row) error {
		rec[0] = strconv.FormatInt(r.Seq, 10)
		rec[1] = r.At
		rec[2] = strconv.FormatInt(r.ActorID, 10)
		rec[3] = Cell(r.ActorName)
		rec[4] = Cell(r.ActorRole)
		rec[5] = Cell(r.Action)
		rec[6] = Cell(r.Outcome)
		rec[7] = Cell(r.TargetType)
		rec[8] = Cell(r.TargetID)
		rec[9] = Cell(r.ClientIP)
		rec[10] = Cell(r.UserAgent)
		rec[11] = Cell(r.RequestID)
		rec[12] = Cell(r.Details)
		rec[13] = r.PrevHash
		rec[14] = r.Hash
		// csv.Writer buffers (4 KiB) and writes through when full, and a
		// failed write sticks: check it so a closed client stops the export.
		if err := cw.Write(rec); err != nil {
			outErr = fmt.Errorf("audit: export: %w", err)
			return outErr
		}
		n++
		return nil
	})
	switch {
	case err != nil && outErr != nil && errors.Is(err, outErr):
		return n, outErr
	case err != nil && !started:
		return 0, fmt.Errorf("audit: export: %w", err)
	case err != nil:
		// End the file with the error record, so that whoever holds it can
		// tell it from a complete one even if the connection survives.
		_ = cw.Write(trailer(TrailerError, fmt.Sprintf("the database failed after %d events; this file is not the complete view, export again", n)))
		cw.Flush()
		return n, fmt.Errorf("%w after %d events: %w", ErrExportIncomplete, n, err)
	}
	if err := cw.Write(trailer(TrailerHead, "seq="+strconv.FormatInt(head.Seq, 10), "hash="+head.Hash,
		"at="+head.At, "rows="+strconv.FormatInt(n, 10))); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

// trailer pads cells to the width of CSVHeader.
func trailer(cells ...string) []string {
	rec := make([]string, len(CSVHeader))
	copy(rec, cells)
	return rec
}

// ErrNotExport is returned by ReadExportHead for a file that is not a
// complete export: no header, or no chain-head record at its end.
var ErrNotExport = errors.New("audit: not a complete export")

// ReadExportHead reads an export written by ExportCSV and returns the chain
// head of its trailer. It returns ErrExportIncomplete for an export that
// ended with the error record, and ErrNotExport (wrapped, saying why) for
// anything else without a well-formed trailer: a file cut short, or not
// an export at all. The trailer is not signed: it proves something only
// about a file kept where the database's editors cannot change it.
func ReadExportHead(r io.Reader) (Head, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	first, err := cr.Read()
	if err != nil || strings.Join(first, ",") != strings.Join(CSVHeader, ",") {
		return Head{}, fmt.Errorf("%w: the first line is not the audit export header", ErrNotExport)
	}
	var last []string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Head{}, fmt.Errorf("%w: %v", ErrNotExport, err)
		}
		last = rec
	}
	switch {
	case len(last) > 0 && last[0] == TrailerError:
		return Head{}, fmt.Errorf("%w: the file ends with %q", ErrExportIncomplete, TrailerError)
	case len(last) < 5 || last[0] != TrailerHead:
		return Head{}, fmt.Errorf("%w: the file does not end with the %q record, so it was cut short", ErrNotExport, TrailerHead)
	}
	kv := map[string]string{}
	for _, c := range last[1:5] {
		k, v, _ := strings.Cut(c, "=")
		kv[k] = v
	}
	seq, err := strconv.ParseInt(kv["seq"], 10, 64)
	if err != nil || seq < 0 || !isHash(kv["hash"]) && seq > 0 {
		return Head{}, fmt.Errorf("%w: unreadable %q record %q", ErrNotExport, TrailerHead, last[:5])
	}
	return Head{Seq: seq, Hash: kv["hash"], At: kv["at"]}, nil
}

// isHash reports 64 lowercase hex digits.
func isHash(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// Cell neutralises spreadsheet formula injection (OWASP "CSV injection"):
// a value starting with = + - @ tab or carriage return gets a leading ' so
// spreadsheets show it as text. Quoting of commas, quotes and newlines is
// encoding/csv's job.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
