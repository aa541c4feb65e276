package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// BatchRecord is an uploaded refund file (bulk refunds), owned by its
// uploader.
type BatchRecord struct {
	ID             string
	UploadedBy     int64
	UploadedByName string
	FileName       string
	Lang           string
	State          string // CHECKING | PREVIEW | SUBMITTED | CANCELLED
	CreatedAt      time.Time
	SubmittedAt    time.Time // zero until submitted
	CheckedAt      time.Time // when its rows were all checked (or the check cancelled); zero while CHECKING
}

// BatchRowRecord is one line of an uploaded refund file with what the
// preview found and, after the submit, what became of it.
type BatchRowRecord struct {
	RowNo                                      int
	API, TransactionRef, PaymentID, AmountText string
	Amount                                     int64
	Currency, ReasonCode, ReasonText           string
	FeeChargeWay, SubMerchantID                string
	BankSwift, BankAccountNumber               string
	BankAccountName, BankBranch                string
	Status, Message, RefundID                  string
}

// insertRowsAtOnce bounds one multi-row INSERT of batch rows: 19
// parameters a row, well under SQLite's 32,766 and PostgreSQL's 65,535.
const insertRowsAtOnce = 500

// InsertBatch stores a batch and all its rows, b.State its state (empty:
// PREVIEW); a batch kept to be checked in the background is CHECKING. Rows
// go in a few multi-row INSERTs, so a 10,000-row file is 20 statements.
func (t *Tx) InsertBatch(ctx context.Context, b BatchRecord, rows []BatchRowRecord) error {
	state, checkedAt := b.State, ""
	if state == "" {
		state = "PREVIEW"
	}
	if state != "CHECKING" {
		checkedAt = FormatTime(t.now)
	}
	_, err := t.stx.ExecContext(ctx, `INSERT INTO refund_batches (id, uploaded_by, uploaded_by_name, file_name, lang, state, created_at, checked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, b.ID, b.UploadedBy, b.UploadedByName, b.FileName, b.Lang, state, FormatTime(t.now), checkedAt)
	if err != nil {
		return fmt.Errorf("store: insert batch: %w", err)
	}
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), insertRowsAtOnce)]
		rows = rows[len(chunk):]
		var q strings.Builder
		q.WriteString(`INSERT INTO refund_batch_rows (batch_id, row_no, api, transaction_ref, payment_id,
			amount_text, amount, currency, reason_code, reason_text, fee_charge_way, sub_merchant_id, bank_swift,
			bank_account_number, bank_account_name, bank_branch, status, message, refund_id) VALUES `)
		args := make([]any, 0, len(chunk)*19)
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, b.ID, r.RowNo, r.API, r.TransactionRef, r.PaymentID, r.AmountText, r.Amount, r.Currency, r.ReasonCode,
				r.ReasonText, r.FeeChargeWay, r.SubMerchantID, r.BankSwift, r.BankAccountNumber, r.BankAccountName,
				r.BankBranch, r.Status, r.Message, r.RefundID)
		}
		if _, err := t.stx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("store: insert batch rows from line %d: %w", chunk[0].RowNo, err)
		}
	}
	return nil
}

const batchCols = `id, uploaded_by, uploaded_by_name, file_name, lang, state, created_at, submitted_at, checked_at`

func scanBatch(sc interface{ Scan(...any) error }) (BatchRecord, error) {
	var b BatchRecord
	var created, submitted, checked string
	if err := sc.Scan(&b.ID, &b.UploadedBy, &b.UploadedByName, &b.FileName, &b.Lang, &b.State, &created, &submitted, &checked); err != nil {
		return b, err
	}
	if checked != "" {
		b.CheckedAt, _ = ParseTime(checked)
	}
	b.CreatedAt, _ = ParseTime(created)
	if submitted != "" {
		b.SubmittedAt, _ = ParseTime(submitted)
	}
	return b, nil
}

// Batch returns one batch, or ErrNotFound.
func (db *DB) Batch(ctx context.Context, id string) (BatchRecord, error) {
	b, err := scanBatch(db.Read.QueryRowContext(ctx, `SELECT `+batchCols+` FROM refund_batches WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrNotFound
	}
	if err != nil {
		return b, fmt.Errorf("store: read batch: %w", err)
	}
	return b, nil
}

// BatchesBy lists the batches a user uploaded, newest first, at most limit.
func (db *DB) BatchesBy(ctx context.Context, userID int64, limit int) ([]BatchRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+batchCols+` FROM refund_batches WHERE uploaded_by = ?
		ORDER BY created_at DESC, id LIMIT ?`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list batches: %w", err)
	}
	defer rows.Close()
	var out []BatchRecord
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list batches: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BatchRows lists a batch's rows in file order.
func (db *DB) BatchRows(ctx context.Context, batchID string) ([]BatchRowRecord, error) {
	return db.batchRows(ctx, batchID, "")
}

// batchRows lists a batch's rows in file order; and is a constant
// condition on them ("AND status = ...").
func (db *DB) batchRows(ctx context.Context, batchID, and string) ([]BatchRowRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT row_no, api, transaction_ref, payment_id, amount_text, amount, currency,
		reason_code, reason_text, fee_charge_way, sub_merchant_id, bank_swift, bank_account_number, bank_account_name,
		bank_branch, status, message, refund_id FROM refund_batch_rows WHERE batch_id = ? `+and+` ORDER BY row_no`, batchID)
	if err != nil {
		return nil, fmt.Errorf("store: read batch rows: %w", err)
	}
	defer rows.Close()
	var out []BatchRowRecord
	for rows.Next() {
		var r BatchRowRecord
		if err := rows.Scan(&r.RowNo, &r.API, &r.TransactionRef, &r.PaymentID, &r.AmountText, &r.Amount, &r.Currency,
			&r.ReasonCode, &r.ReasonText, &r.FeeChargeWay, &r.SubMerchantID, &r.BankSwift, &r.BankAccountNumber,
			&r.BankAccountName, &r.BankBranch, &r.Status, &r.Message, &r.RefundID); err != nil {
			return nil, fmt.Errorf("store: read batch rows: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetBatchRowOutcome records what the submit made of one row.
func (t *Tx) SetBatchRowOutcome(ctx context.Context, batchID string, rowNo int, status, message, refundID string) error {
	_, err := t.stx.ExecContext(ctx, `UPDATE refund_batch_rows SET status = ?, message = ?, refund_id = ?
		WHERE batch_id = ? AND row_no = ?`, status, message, refundID, batchID, rowNo)
	if err != nil {
		return fmt.Errorf("store: batch row outcome: %w", err)
	}
	return nil
}

// MarkBatchSubmitted moves a batch from PREVIEW to SUBMITTED at the
// transaction's time and blanks the receivers' account numbers its rows
// kept (the refunds hold them now). It reports false when the batch was
// not in PREVIEW (someone submitted it first).
func (t *Tx) MarkBatchSubmitted(ctx context.Context, id string) (bool, error) {
	res, err := t.stx.ExecContext(ctx, `UPDATE refund_batches SET state = 'SUBMITTED', submitted_at = ?
		WHERE id = ? AND state = 'PREVIEW'`, FormatTime(t.now), id)
	if err != nil {
		return false, fmt.Errorf("store: submit batch: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	if _, err := t.stx.ExecContext(ctx, `UPDATE refund_batch_rows SET bank_account_number = '' WHERE batch_id = ?`, id); err != nil {
		return false, fmt.Errorf("store: submit batch: %w", err)
	}
	return true, nil
}

// InFlightFor counts the refunds of a target that are in flight: pending,
// or approved and not final.
func (db *DB) InFlightFor(ctx context.Context, api, ref, paymentID string) (int, error) {
	var n int
	err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM refunds
		WHERE api = ? AND transaction_ref = ? AND payment_id = ?
		  AND approval IN ('PENDING', 'APPROVED') AND submission NOT IN ('SUCCEEDED', 'FAILED')`,
		api, ref, paymentID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count in-flight refunds: %w", err)
	}
	return n, nil
}

// ReservedNow sums what a target's in-flight refunds reserve, read
// without the target's lock: for a preview, which creates nothing (the
// write transaction that creates a refund checks again under the lock).
func (db *DB) ReservedNow(ctx context.Context, api, ref, paymentID string) (int64, error) {
	var n int64
	err := db.Read.QueryRowContext(ctx, `SELECT coalesce(sum(amount), 0) FROM refunds
		WHERE api = ? AND transaction_ref = ? AND payment_id = ?
		  AND approval IN ('PENDING', 'APPROVED') AND submission NOT IN ('SUCCEEDED', 'FAILED')`,
		api, ref, paymentID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: sum reserved: %w", err)
	}
	return n, nil
}
