package bulk

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// ResultColumns is the header of a batch's result file.
var ResultColumns = []string{"line", "product", "reference", "payment_id", "amount", "currency", "status", "message", "refund_id"}

// WriteResults writes one line per row of b: what it was, its status, its
// message and the refund it became. Every cell is neutralised for
// spreadsheets (SafeCell); the receiver's bank details are left out.
func WriteResults(w io.Writer, b Batch) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ResultColumns); err != nil {
		return fmt.Errorf("bulk: results: %w", err)
	}
	for _, l := range b.Lines {
		amount := l.AmountText
		if l.Status == StatusOK || l.Status == StatusCreated {
			amount = strconv.FormatInt(l.Amount, 10)
		}
		rec := []string{strconv.Itoa(l.RowNo), l.API, l.TransactionRef, l.PaymentID, amount, l.Currency, l.Status, l.Message, l.RefundID}
		for i := range rec {
			rec[i] = SafeCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("bulk: results: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("bulk: results: %w", err)
	}
	return nil
}
