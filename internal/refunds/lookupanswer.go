package refunds

import (
	"errors"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// lookupAnswer is what NeoX answered a live lookup, kept (never cached or
// serialised) so a request made from the lookup in the same HTTP request
// needs no second call: POST /refunds looks the reference up to show the
// refundable figure and hands the lookup to Create.
type lookupAnswer struct {
	subMerchantID string
	found         []product.Found
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
		l.answer.subMerchantID != strings.TrimSpace(req.SubMerchantID) {
		return target{}, errNoAnswer
	}
	for _, f := range l.answer.found {
		if f.ID == "" || f.ID == req.PaymentID {
			return target{api: l.API, t: f.Target}, nil
		}
	}
	if len(l.answer.found) == 0 {
		return target{}, invalid("transaction_ref", msgUnknownRef)
	}
	return target{}, invalid("payment_id", msgNoSuchPayment)
}

// msgNoSuchPayment: the reference has no target with the payment id given.
var msgNoSuchPayment = fault.M("domain.42", "this transaction has no such payment")
