// Package neox holds typed clients for the three NeoX APIs the refund desk
// uses — PG (payment gateway, signed form-like JSON), GC (Global Collections)
// and COL (domestic Collections, VND) — plus request signing and webhook
// verification.
//
// # Error classification
//
// Every client call returns either nil, a *RejectedError (NeoX definitely
// said no: nothing happened, the request may be fixed and sent under a new
// id), a *UnknownOutcomeError (timeout, cut connection, 5xx, unparseable
// answer, or a duplicate-request-id answer: the call may or may not have
// taken effect; retry with the same request id or reconcile), or a plain
// error for invalid input detected before anything was sent. A connection
// refused before anything was sent is also reported as unknown: it is
// always safe to treat unknown as "retry with the same id".
//
// # Decisions where the NeoX docs are vague
//
//   - PG REFUND signature: the documented sample hash (88cafbc3bc…)
//     reproduces only when neo_RequestID is left out of the hashed fields.
//     The signed set is therefore neo_Amount, neo_Command,
//     neo_MerchantCode, neo_PaymentID, neo_Receiver, neo_Version (sorted by
//     key, values concatenated, secret appended, SHA-256, lowercase hex);
//     see pgRefundSignedFields and TestPGRefundDocSample. An absent receiver
//     contributes the empty string, which is the same as leaving it out.
//   - PG refund IPN: "same rule" over all eleven documented fields,
//     neo_RequestID included (NeoX's IPN sample, TestPGIPNDocSample). The
//     REFUND finding above is about the request only and is never a
//     fallback for notifications.
//   - Every notification is accepted only with exactly its documented
//     fields (PGIPNFields, GCRefundFields, COLRefundFields; see webhook.go
//     for why) and with the values the desk acts on in their documented
//     vocabulary; matching them to a refund and cross-checking them against
//     what the desk stored is the refunds package's job.
//   - GC/COL webhook secureHash: plain SHA-256 (not HMAC) over the values of
//     all fields except secureHash, sorted by key, exactly as they appear
//     in the JSON text (numbers are never reformatted), then the secret,
//     Base64. Optional fields that are absent, null or "" all contribute
//     nothing, so "optional fields are left out" (newer COL page) and
//     "present but empty" give the same hash.
//   - Envelope codes (GC and COL): 1 success, 99 accepted/processing,
//     2 and 400–499 rejected, 500–599 unknown. DUPLICATE_REQUEST_ID (GC) and
//     PG code 19 mean "NeoX already has this request id": they are reported
//     as unknown outcomes, never as rejections, because the original
//     request may well have succeeded.
//   - Lookups read exactly the documented names and JSON types (see
//     conformance_docs_test.go, whose fixtures are written from the docs):
//     GET /v2/gc/collection-orders/{collectionOrderId} → requestId, orderId
//     (the order id), merchantId, amount and payAmount (JSON numbers),
//     currency, payCurrency, orderType, status (WAIT_MATCH | MATCHED |
//     REJ_WAIT_MATCH | PENDING | SUCCESS | CANCEL | REFUND_PROCESS |
//     REFUND_SUCCESS), recBankCode; subMerchantId is sent as a query
//     parameter when the caller gives one. GET v2/col/transactions/{transId}
//     → merchantCode, transId, transDate, virtualAccountRequestId,
//     virtualAccountId, accountName, amount, fee, refundedAmount (JSON
//     strings here, numbers in the list call: both are read), status (no
//     published values), reconcileStatus, payoutStatus, serviceInfomation
//     (sic) and debitorInformation (kept verbatim), Note (capital N),
//     createdAt, updatedAt. Display-only dates in an unknown shape are left
//     zero instead of failing the lookup.
//   - GC amounts (amount, payAmount) arrive in major units of their
//     currency (1500.00); they are converted exactly (no floats) to minor
//     units using the ISO 4217 exponent (see CurrencyExponent): USD 1500.00
//     → 150000, JPY 120000 → 120000, VND has no minor unit. A missing
//     payCurrency is taken as the order currency.
//   - PG code 98 ("invalid signature", defined by NeoX's client library,
//     absent from the public table) is a *RejectedError like any other
//     refusal; IsBadSignature recognises it so the desk can tell operators
//     that its PG signing configuration is wrong.
//   - Which GC/COL statuses and amounts are refundable is not the client's
//     business: see internal/refunds/refundable.go.
package neox
