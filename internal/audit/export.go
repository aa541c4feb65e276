package audit

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// CSVHeader is the first record of ExportCSV.
var CSVHeader = []string{"seq", "time_utc", "actor_id", "actor_name", "actor_role", "action", "outcome",
	"target_type", "target_id", "client_ip", "user_agent", "request_id", "details", "prev_hash", "hash"}

// ExportCSV writes the events matching f to w as CSV, oldest first (so a
// full export can be re-verified row by row), with CSVHeader first. Rows
// stream from one read snapshot straight into an encoding/csv writer, so
// memory stays constant whatever the size. Cells that a spreadsheet would
// run as a formula (starting with = + - @ tab or CR) are prefixed with '.
// It returns the number of events written (header excluded).
func (l *Log) ExportCSV(ctx context.Context, w io.Writer, f Filter) (int64, error) {
	lo, hi, ok, err := l.span(ctx, f)
	if err != nil {
		return 0, err
	}
	if !ok {
		lo, hi = 1, 0 // nothing matches: still write the header
	}
	where, args := f.where(lo, hi)
	rows, err := l.db.Read.QueryContext(ctx, `SELECT `+selectCols+` FROM audit_events WHERE `+where+` ORDER BY seq ASC`, args...)
	if err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	var n int64
	var r row
	rec := make([]string, len(CSVHeader))
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			return n, err
		}
		rec[0] = strconv.FormatInt(r.Seq, 10)
		rec[1] = r.At
		rec[2] = strconv.FormatInt(r.ActorID, 10)
		rec[3] = cell(r.ActorName)
		rec[4] = cell(r.ActorRole)
		rec[5] = cell(r.Action)
		rec[6] = cell(r.Outcome)
		rec[7] = cell(r.TargetType)
		rec[8] = cell(r.TargetID)
		rec[9] = cell(r.ClientIP)
		rec[10] = cell(r.UserAgent)
		rec[11] = cell(r.RequestID)
		rec[12] = cell(r.Details)
		rec[13] = r.PrevHash
		rec[14] = r.Hash
		// csv.Writer buffers (4 KiB) and writes through when full, and a
		// failed write sticks: check it so a closed client stops the export.
		if err := cw.Write(rec); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

// cell neutralises spreadsheet formula injection (OWASP "CSV injection"):
// a value starting with = + - @ tab or carriage return gets a leading ' so
// spreadsheets show it as text. Quoting of commas, quotes and newlines is
// encoding/csv's job.
func cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
