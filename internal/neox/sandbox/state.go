package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Outcome decides deterministically how refunds of a payment, order or
// transaction end.
type Outcome int

// Outcomes. PG supports Succeed and Fail; GC adds InsufficientBalance;
// COL supports all four.
const (
	OutcomeSucceed             Outcome = iota // refund settles successfully
	OutcomeFail                               // accepted, then FAILED at the bank
	OutcomeReject                             // COL: NeoX operations reject the request
	OutcomeInsufficientBalance                // refused at creation: INSUFFICIENT_BALANCE
)

// PGPayment is one payment of a PG transaction (VND).
type PGPayment struct {
	ID             string
	Status         string // SUCCESS | FAILED | PROCESSING
	Method         string // QR | ATM | CC
	Amount         int64
	RefundedAmount int64
	Outcome        Outcome
}

// PGTransaction is a PG transaction holding one or more payments.
type PGTransaction struct {
	ID          string // neo_TransactionID
	OrderID     string // merchant order id, echoed in IPNs as neo_OrderID
	Description string
	Payments    []PGPayment
}

// CollectionOrder is a GC collection order; Amount in minor units of
// Currency, PayAmount in minor units of PayCurrency. Empty fields get
// defaults in the answer (MerchantID: the merchant code, OrderType:
// TRADE_COLLECTION, PayCurrency: Currency).
type CollectionOrder struct {
	ID            string // orderId
	RequestID     string // the merchant's requestId of the order
	MerchantID    string
	SubMerchantID string // set: NeoX finds the order only when asked with this subMerchantId
	Status        string // WAIT_MATCH | MATCHED | REJ_WAIT_MATCH | PENDING | SUCCESS | CANCEL | REFUND_PROCESS | REFUND_SUCCESS
	OrderType     string // RECHARGE | TRADE_COLLECTION | PLATFORM_COLLECTION
	Currency      string
	Amount        int64 // amount first notified by the bank
	PayCurrency   string
	PayAmount     int64 // amount actually settled
	RecBankCode   string
	CreatedAt     time.Time // not in the documented answer; for the demo list only
	Description   string
	Outcome       Outcome
}

// CollectionTransaction is a COL collection transaction (VND), with the
// payer's bank account used when a refund names none. Empty fields get
// defaults in the answer (ReconcileStatus RECONCILED, PayoutStatus SUCCESS,
// TransDate and UpdatedAt: CreatedAt).
type CollectionTransaction struct {
	ID                      string // transId
	Status                  string // SUCCESS, PROCESSING, FAILED, or anything (NeoX publishes no list)
	Amount                  int64
	Fee                     int64
	RefundedAmount          int64
	ReconcileStatus         string
	PayoutStatus            string
	VirtualAccountID        string
	VirtualAccountRequestID string
	AccountName             string // the virtual account's name
	Note                    string
	TransDate               time.Time
	CreatedAt               time.Time
	UpdatedAt               time.Time
	Description             string
	Outcome                 Outcome
	// Refundable, for a Status other than SUCCESS, makes NeoX accept
	// refunds of it anyway (the sandbox's stand-in for a status value the
	// desk does not know but NeoX treats as paid).
	Refundable        bool
	BankSwiftCode     string
	BankAccountNumber string
	BankAccountName   string
}

// Refund is a snapshot of a refund the sandbox accepted.
type Refund struct {
	API            string // PG | GC | COL
	RequestID      string // the merchant's request id
	Target         string // PG payment id, GC collection order id, COL collection transaction id
	NeoRefundID    string // PG transId, GC refundRequestId, COL refundTransId (once approved)
	ApprovalStatus string // COL only
	Status         string // PROCESSING | SUCCESS | FAILED ("" for a pending COL request)
	Amount         int64  // minor units of Currency
	Currency       string
	FailedReason   string
	CreatedAt      time.Time
}

// answer is a stored reply to a create call, replayed for the same request id.
type answer struct {
	fingerprint string // canonical request payload
	status      int
	body        []byte
}

type pgState struct {
	txn      *PGTransaction
	payment  *PGPayment
	inflight int64
}

type gcRefund struct {
	Refund
	fee, subMerchant string
}

type colRefund struct {
	Refund
	bankSwift, bankAccount, bankName, bankBranch, note string
}

type state struct {
	pgTxns     map[string]*PGTransaction
	pgPayments map[string]*pgState
	gcOrders   map[string]*CollectionOrder
	colTxns    map[string]*CollectionTransaction
	colInfl    map[string]int64

	refunds []*Refund // every accepted refund, in creation order (PG and GC)
	colRefs map[string]*colRefund
	gcRefs  map[string]*gcRefund
	answers map[string]answer // "API requestId" → stored create answer

	calls       map[string]int       // create calls per request id
	firstCall   map[string]time.Time // when the first create call per request id arrived
	tokens      map[string]time.Time
	tokenCalls  int
	faults      map[string]faultSlot
	latency     time.Duration
	webhookURLs [3]string // PG, GC, COL
	seq         int
	seeds       []SeedID
}

func newState() state {
	return state{pgTxns: map[string]*PGTransaction{}, pgPayments: map[string]*pgState{},
		gcOrders: map[string]*CollectionOrder{}, colTxns: map[string]*CollectionTransaction{},
		colInfl: map[string]int64{}, colRefs: map[string]*colRefund{}, gcRefs: map[string]*gcRefund{},
		answers: map[string]answer{}, calls: map[string]int{}, firstCall: map[string]time.Time{}, tokens: map[string]time.Time{},
		faults: map[string]faultSlot{}, latency: 2 * time.Second}
}

func newID() string { return uuid.NewString() }

// nextSeq returns a sandbox-wide sequence number; call with s.mu held.
func (s *Sandbox) nextSeq() int {
	s.st.seq++
	return s.st.seq
}

// AddPGTransaction adds (or replaces) a PG transaction and its payments.
func (s *Sandbox) AddPGTransaction(t PGTransaction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tt := t
	tt.Payments = slices.Clone(t.Payments)
	s.st.pgTxns[t.ID] = &tt
	for i := range tt.Payments {
		s.st.pgPayments[tt.Payments[i].ID] = &pgState{txn: &tt, payment: &tt.Payments[i]}
	}
}

// AddCollectionOrder adds (or replaces) a GC collection order.
func (s *Sandbox) AddCollectionOrder(o CollectionOrder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.gcOrders[o.ID] = &o
}

// AddCollectionTransaction adds (or replaces) a COL collection transaction.
func (s *Sandbox) AddCollectionTransaction(t CollectionTransaction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.colTxns[t.ID] = &t
}

// AddCOLRefund records a COL refund request NeoX holds although it did not
// come through this API: made in NeoX's portal or by another system. For
// reconciliation tests: the refund list and detail show it; no webhook is
// sent and Refunds does not include it. Only RequestID and Target are
// required; CreatedAt defaults to now.
func (s *Sandbox) AddCOLRefund(r Refund) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.API = "COL"
	if r.CreatedAt.IsZero() {
		r.CreatedAt = nowUTC()
	}
	if r.Currency == "" {
		r.Currency = "VND"
	}
	s.st.colRefs[r.RequestID] = &colRefund{Refund: r, note: "Created in the merchant portal"}
}

// RefundCalls reports how many create calls (PG REFUND, GC and COL
// refund-requests) arrived carrying requestID, whatever their outcome.
func (s *Sandbox) RefundCalls(requestID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.calls[requestID]
}

// FirstRefundCall reports when the first create call carrying requestID
// arrived (zero if none did): when the desk sent it, as NeoX sees it.
func (s *Sandbox) FirstRefundCall(requestID string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.firstCall[requestID]
}

// TokenCalls reports how many token requests arrived.
func (s *Sandbox) TokenCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.tokenCalls
}

// Refunds returns a snapshot of every refund accepted so far, oldest first.
func (s *Sandbox) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Refund, 0, len(s.st.refunds))
	for _, r := range s.st.refunds {
		out = append(out, *r)
	}
	return out
}

func (s *Sandbox) countCall(op string, body []byte) {
	if op != OpPGRefund && op != OpGCRefund && op != OpCOLRefund {
		return
	}
	var m struct {
		PG  string `json:"neo_RequestID"`
		API string `json:"requestId"`
	}
	_ = json.Unmarshal(body, &m)
	id := m.API
	if op == OpPGRefund {
		id = m.PG
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.calls[id] == 0 {
		s.st.firstCall[id] = time.Now()
	}
	s.st.calls[id]++
}

// replay returns the stored answer for a create with this request id. A
// different payload under the same id gives ok=true and dup=true.
func (s *Sandbox) replay(api, requestID, fingerprint string) (a answer, ok, dup bool) {
	a, ok = s.st.answers[api+" "+requestID]
	return a, ok, ok && a.fingerprint != fingerprint
}

// answered handles a create call whose request id NeoX has seen: the same
// payload gets the original answer byte for byte, a different payload gets
// refuse. It reports whether it answered; call with s.mu held.
func (s *Sandbox) answered(w http.ResponseWriter, api, requestID, fingerprint string, refuse func()) bool {
	a, ok, dup := s.replay(api, requestID, fingerprint)
	switch {
	case dup:
		refuse()
	case ok:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}
	return ok
}

func (s *Sandbox) remember(api, requestID, fingerprint string, status int, body []byte) {
	s.st.answers[api+" "+requestID] = answer{fingerprint: fingerprint, status: status, body: body}
}

func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func refundTransID(n int) string { return fmt.Sprintf("RFT%09d", n) }
