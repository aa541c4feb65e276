// Package bulk is bulk refunds from a file (issue 18): a CSV of refunds is
// parsed here, every row is checked with the refund domain's own rules and
// NeoX lookup (refunds.Service.Check), the batch is kept with each row's
// verdict, and its valid rows are submitted as ordinary refund requests
// (refunds.Service.Create), each with its own id and through the approval
// policy.
package bulk

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// Limits of one file.
const (
	MaxRows  = 10_000  // data rows, the header apart
	MaxBytes = 5 << 20 // 5 MiB
	// maxField bounds one cell: the longest field a refund has is its
	// reason text (1,000 characters, up to 4 bytes each).
	maxField = 4000
)

// Columns of a file: the first seven are required in the header; the
// receiver's columns only where a product needs them (PG QR payments: the
// bank_* columns; GC: fee_charge_way, sub_merchant_id).
var (
	RequiredColumns = []string{"product", "reference", "payment_id", "amount", "currency", "reason_code", "reason_text"}
	OptionalColumns = []string{"fee_charge_way", "sub_merchant_id", "bank_swift", "bank_account_number", "bank_account_name", "bank_branch"}
)

// Row is one data line of a file as written, with the amount read the way
// the refund form reads it.
type Row struct {
	Line                             int // the file's line number (the header is line 1)
	API, Reference, PaymentID        string
	AmountText                       string
	Amount                           int64 // 0 when empty (GC refunds the whole order)
	Currency, ReasonCode, ReasonText string
	FeeChargeWay, SubMerchantID      string
	BankSwift, BankAccountNumber     string
	BankAccountName, BankBranch      string
	Err                              error // a fault.Msg when the row cannot be a refund as written
	DuplicateOf                      int   // line of the earlier row with the same product, reference and payment
}

// ErrUnreadable wraps a failure to read the file itself (a broken or
// too large upload), as opposed to a file read and refused (*FileError).
var ErrUnreadable = errors.New("bulk: cannot read the file")

// FileError is a file refused as a whole (nothing is kept).
type FileError struct{ Msg fault.Msg }

func (e *FileError) Error() string { return "bulk: " + e.Msg.String() }

// Unwrap gives the message, for the handlers to translate.
func (e *FileError) Unwrap() error { return e.Msg }

func fileErr(key, english string, args ...any) error {
	return &FileError{Msg: fault.M(key, english, args...)}
}

// Parse reads a refund file: UTF-8 (a byte-order mark is skipped), comma
// separated (or semicolon separated, read from the header line), a header row naming the columns (any order, any case), then
// at most MaxRows rows in at most MaxBytes. A file it cannot read as a
// whole is a *FileError; a row it cannot use carries its own Err. Rows
// naming the same product, reference and payment as an earlier row are
// marked duplicates.
func Parse(r io.Reader) ([]Row, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if len(data) > MaxBytes {
		return nil, fileErr("bulk.err_too_large", "the file is larger than 5 MiB")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, fileErr("bulk.err_not_utf8", "the file is not UTF-8 text: save it as CSV UTF-8")
	}
	cr := csv.NewReader(bytes.NewReader(data))
	// Excel under a Vietnamese (or most European) locale separates with
	// semicolons, the comma being the decimal mark: a header line with
	// semicolons and no comma says so.
	headLine, _, _ := bytes.Cut(data, []byte("\n"))
	if bytes.IndexByte(headLine, ',') < 0 && bytes.IndexByte(headLine, ';') >= 0 {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1 // a short or long row is that row's error, not the file's
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fileErr("bulk.err_empty", "the file is empty: it needs a header row and at least one refund")
	}
	if err != nil {
		return nil, csvErr(err)
	}
	cols, err := columns(header)
	if err != nil {
		return nil, err
	}
	var rows []Row
	first := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue // a blank line, or a spreadsheet's row of empty cells
		}
		if len(rows) == MaxRows {
			return nil, fileErr("bulk.err_too_many", "the file has more than %d refunds: split it", MaxRows)
		}
		row := readRow(line, rec, cols, len(header))
		if row.Err == nil {
			key := row.API + "\x00" + row.Reference + "\x00" + row.PaymentID
			if prev, ok := first[key]; ok {
				row.DuplicateOf = prev
				row.Err = fault.M("bulk.err_duplicate", "the same refund as line %d", prev)
			} else {
				first[key] = line
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, fileErr("bulk.err_empty", "the file is empty: it needs a header row and at least one refund")
	}
	return rows, nil
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fileErr("bulk.err_csv", "line %d is not valid CSV (check the quotes)", pe.StartLine)
	}
	return fmt.Errorf("bulk: read file: %w", err)
}

// columns maps each known column name to its index in the header.
func columns(header []string) (map[string]int, error) {
	known := map[string]bool{}
	for _, c := range append(append([]string{}, RequiredColumns...), OptionalColumns...) {
		known[c] = true
	}
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "" {
			continue // a spreadsheet's empty trailing column
		}
		switch {
		case !known[name]:
			return nil, fileErr("bulk.err_unknown_column", "the header has an unknown column %q: the columns are %s",
				clip(h, 40), strings.Join(append(append([]string{}, RequiredColumns...), OptionalColumns...), ","))
		}
		if _, dup := cols[name]; dup {
			return nil, fileErr("bulk.err_column_twice", "the header names the column %s twice", name)
		}
		cols[name] = i
	}
	var missing []string
	for _, c := range RequiredColumns {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fileErr("bulk.err_missing_columns", "the header row must name the columns %s (missing: %s)",
			strings.Join(RequiredColumns, ","), strings.Join(missing, ","))
	}
	return cols, nil
}

// readRow reads one record; width is the header's.
func readRow(line int, rec []string, cols map[string]int, width int) Row {
	row := Row{Line: line}
	if len(rec) != width {
		row.Err = fault.M("bulk.err_width", "this line has %d values, the header %d", len(rec), width)
		return row
	}
	for _, v := range rec {
		if len(v) > maxField {
			row.Err = fault.M("bulk.err_field_long", "a value on this line is too long")
			return row
		}
	}
	get := func(name string) string {
		if i, ok := cols[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	row.API = strings.ToUpper(get("product"))
	row.Reference, row.PaymentID, row.AmountText = get("reference"), get("payment_id"), get("amount")
	row.Currency = strings.ToUpper(get("currency"))
	row.ReasonCode, row.ReasonText = get("reason_code"), get("reason_text")
	row.FeeChargeWay, row.SubMerchantID = strings.ToUpper(get("fee_charge_way")), get("sub_merchant_id")
	row.BankSwift, row.BankAccountNumber = get("bank_swift"), get("bank_account_number")
	row.BankAccountName, row.BankBranch = get("bank_account_name"), get("bank_branch")
	if row.AmountText != "" {
		n, err := refunds.ParseAmount(row.AmountText)
		if err != nil {
			row.Err = err
			return row
		}
		row.Amount = n
	}
	return row
}

func blank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// SafeCell neutralises a value for a spreadsheet: a cell starting with
// =, +, -, @, a tab or a carriage return is a formula to Excel and
// LibreOffice, so it gets a leading apostrophe (CSV injection).
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
