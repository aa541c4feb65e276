package refunds

import (
	"errors"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product/col"
	"github.com/neox-refund-desk/refunddesk/internal/product/gc"
	"github.com/neox-refund-desk/refunddesk/internal/product/pg"
)

// lookupAnswer is what NeoX answered a live lookup, kept (never cached or
// serialised) so a request made from the lookup in the same HTTP request
// needs no second call: POST /refunds looks the reference up to show the
// refundable figure and hands the lookup to Create.
type lookupAnswer struct {
	subMerchantID string
	pays          []neox.Payment
	order         neox.CollectionOrder
	txn           neox.CollectionTransaction
}

// errNoAnswer: the lookup cannot stand in for a NeoX call (nil, cached,
// or of another product, reference or sub-merchant); Create asks NeoX.
var errNoAnswer = errors.New("refunds: no live lookup for this request")

// target is the refund target req names in l's answer, checked the way
// fetchTarget checks NeoX's: an unknown payment id is a validation error.
// The refundable amount is still re-checked inside Create's transaction
// against what is reserved then.
func (l *Lookup) target(req NewRequest) (target, error) {
	if l == nil || l.answer == nil || l.API != req.API || l.Ref != req.TransactionRef ||
		(req.API == APIGC && l.answer.subMerchantID != strings.TrimSpace(req.SubMerchantID)) {
		return target{}, errNoAnswer
	}
	switch l.API {
	case APIGC:
		return target{api: l.API, t: gc.Target{Order: l.answer.order}}, nil
	case APICOL:
		return target{api: l.API, t: col.Target{Txn: l.answer.txn}}, nil
	case APIPG:
		for _, p := range l.answer.pays {
			if p.ID == req.PaymentID {
				return target{api: l.API, t: pg.Target{Payment: p}}, nil
			}
		}
		if len(l.answer.pays) == 0 {
			return target{}, invalid("transaction_ref", msgUnknownRef)
		}
		return target{}, invalid("payment_id", msgNoSuchPayment)
	}
	return target{}, errNoAnswer
}

// msgNoSuchPayment: the PG transaction has no payment with the id given.
var msgNoSuchPayment = fault.M("domain.42", "this transaction has no such payment")
