package product

// Event is a verified webhook delivery as its product reads it: what it
// names, what it signs, how it is checked against the refund it names and
// what it says about that refund. The workflow dedupes, stores, matches,
// decides (forward only, never over a manual resolution) and audits.
type Event struct {
	// Ref is the id the event carried: the desk's request id, or NeoX's
	// refund id when ByNeoXID.
	Ref      string
	ByNeoXID bool
	// Status is NeoX's status as stored with the event.
	Status string
	// Signed is every value the event signs but its creation time (the
	// product's name first); deliveries with the same values are one
	// event.
	Signed []string
	// Held is the event as JSON, kept while no refund matches it, for a
	// product whose events can arrive before NeoX's answer names its
	// refund id (see Replayer); "" otherwise.
	Held string
	// Check returns the Mismatch… value of a field of r that disagrees
	// with the event, or "".
	Check func(r Refund) string
	// Observe is what the event says about r; To "" says nothing.
	Observe func(r Refund) Outcome
	// Details go on the audit row.
	Details map[string]any
}

// Why a signed delivery disagrees with the refund it names.
const (
	MismatchTarget       = "target"         // another payment, collection order or transaction
	MismatchAmount       = "amount"         // another amount
	MismatchCurrency     = "currency"       // another currency
	MismatchNeoXRefundID = "neox_refund_id" // another NeoX refund id than the one NeoX gave us
)

// Replayer is a product whose events, matched by NeoX's refund id, may
// arrive before the desk knows that id: the desk keeps them (Event.Held)
// and replays them when NeoX's answer gives the id.
type Replayer interface {
	Replay(held string) (Event, error)
}

// HookKeys are what a product verifies its webhook deliveries with: the
// shared secret and, where the product signs with one (PG), the merchant
// code. An empty Secret means NeoX was given no endpoint for the product.
type HookKeys struct{ Secret, Merchant string }

// Hooked is a product NeoX tells about its refunds by webhook, at
// POST /webhooks/neox/{HookPath}.
type Hooked interface {
	// HookPath is the endpoint's last path segment ("pg").
	HookPath() string
	// ReadHook verifies a delivery (its signature over raw, the bytes as
	// received) with k and reads it. Errors: neox.ErrBadSignature,
	// neox.ErrUnexpectedField, neox.ErrMalformed, or another (the delivery
	// is not acknowledged, so NeoX retries).
	ReadHook(raw []byte, k HookKeys) (Event, error)
}
