package product

import (
	"context"
	"time"
)

// Sweeper is a product whose NeoX API lists the product's refund requests
// by creation time (COL's v2/col/refund-requests), so that the desk can
// compare NeoX's list with its own records: the sweep. The workflow
// (package refunds) runs the schedule, allows one sweep at a time,
// compares each refund found with the desk, and records and audits the
// run; the product only reads NeoX's list.
type Sweeper interface {
	// Sweeps reports whether the product's client can list refunds; a
	// product that cannot is not swept.
	Sweeps() bool
	// Sweep reads every page of NeoX's list of the product's refund
	// requests created in [from, to] and calls found once for each refund
	// listed, in order. It stops at found's first error and returns it;
	// pages is how many pages NeoX answered. Other errors are NeoX's,
	// wrapped with the page, or a window too large to read in full.
	Sweep(ctx context.Context, from, to time.Time, found func(Swept) error) (pages int, err error)
	// SweptState is the submission state (Processing, Succeeded or
	// Failed) that a listed refund's approval status and status map onto,
	// as a poll answer would.
	SweptState(approvalStatus, status string) string
}

// Swept is one refund request as NeoX's list shows it, NeoX's words kept
// verbatim.
type Swept struct {
	RequestID      string // the desk's refund id, if the desk made it
	TargetRef      string // what it refunds (COL's collectionTransId)
	NeoXRefundID   string
	ApprovalStatus string
	Status         string
	Amount         int64 // minor units
	Note           string
	FailedReason   string
	CreatedAt      time.Time // when NeoX created it
}
