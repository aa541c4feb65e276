package audit

// Actions of the background check of bulk refund files (issue 18).
const (
	ActionBatchChecked   = "batch.checked"   // every row of a batch checked in the background (system)
	ActionBatchCancelled = "batch.cancelled" // its uploader stopped a batch's check
)
