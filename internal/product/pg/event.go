package pg

import (
	"strconv"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// WebhookReply is PG's IPN answer: respcode 0 received, 1 refused.
func (p *Product) WebhookReply(refused bool) []byte {
	if refused {
		return []byte(`{"respcode":1,"respmsg":"refused: does not match the refund it names"}`)
	}
	return []byte(`{"respcode":0,"respmsg":"received"}`)
}

// IPNEvent reads a verified PG refund IPN. neo_ResponseCode 0 means the
// refund succeeded, 99 that it is processing, a documented failure code
// that it failed (code and message kept verbatim).
func IPNEvent(ipn neox.PGRefundIPN) product.Event {
	code := strconv.Itoa(ipn.ResponseCode)
	return product.Event{Ref: ipn.RequestID, Status: code, Signed: append([]string{Name}, ipn.Fields()...),
		Check: func(r product.Refund) string {
			switch {
			case r.PaymentID != ipn.PaymentID:
				return product.MismatchTarget
			case r.Amount != ipn.Amount:
				return product.MismatchAmount
			case r.Currency != "VND":
				return product.MismatchCurrency // PG IPNs are in VND
			case r.NeoXRefundID != "" && ipn.TransactionID != r.NeoXRefundID && ipn.TransactionID != r.TransactionRef:
				// NeoX's sample IPN carries a refund id (transId) here;
				// the payment's transaction id is accepted too, since
				// the docs do not say which it is.
				return product.MismatchNeoXRefundID
			}
			return ""
		},
		Observe: func(r product.Refund) product.Outcome {
			out := product.Outcome{Code: code, Message: ipn.ResponseMsg}
			if r.NeoXRefundID == "" && ipn.TransactionID != r.TransactionRef {
				out.NeoXRefundID = ipn.TransactionID
			}
			switch ipn.ResponseCode {
			case neox.PGCodeSucceeded:
				out.To, out.Status = product.Succeeded, "SUCCESS"
			case neox.PGCodeProcessing:
				out.To, out.Status = product.Processing, "PROCESSING"
			default:
				out.To, out.Status, out.FailedReason = product.Failed, "FAILED", ipn.ResponseMsg
			}
			return out
		},
		Details: map[string]any{"amount": ipn.Amount, "fee": ipn.Fee, "payment_id": ipn.PaymentID,
			"neox_refund_id": ipn.TransactionID}}
}

// HookPath: PG's refund IPNs arrive at /webhooks/neox/pg.
func (p *Product) HookPath() string { return "pg" }

// ReadHook verifies a refund IPN with the merchant code and secret key.
func (p *Product) ReadHook(raw []byte, k product.HookKeys) (product.Event, error) {
	ipn, err := neox.VerifyPGIPN(raw, k.Merchant, k.Secret)
	if err != nil {
		return product.Event{}, err
	}
	return IPNEvent(ipn), nil
}
