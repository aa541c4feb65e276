package neox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// COL is a client of NeoX Collections (VND).
type COL struct{ api *openAPI }

// NewCOL returns a COL client; cfg.Scope is sent as given (the COL scope is
// not documented). hc nil means a default client.
func NewCOL(cfg OpenAPIConfig, hc *http.Client) *COL {
	return &COL{api: newOpenAPI("COL", cfg, hc)}
}

// COLRefundRequest refunds part or all of a collection transaction.
type COLRefundRequest struct {
	RequestID         string `json:"requestId"`
	CollectionTransID string `json:"collectionTransId"`
	Amount            int64  `json:"amount"` // VND, > 0
	BankSwiftCode     string `json:"bankSwiftCode,omitempty"`
	BankAccountNumber string `json:"bankAccountNumber,omitempty"`
	BankAccountName   string `json:"bankAccountName,omitempty"`
	BankBranch        string `json:"bankBranch,omitempty"`
}

// COLRefund is a COL refund request as NeoX reports it.
type COLRefund struct {
	MerchantCode      string
	RequestID         string
	CollectionTransID string
	RefundTransID     string // set once approved
	ApprovalStatus    string // PENDING | APPROVED | REJECTED
	Status            string // PROCESSING | SUCCESS | FAILED ("" while pending)
	BankSwiftCode     string
	BankAccountNumber string
	BankAccountName   string
	Amount            int64 // VND
	Note              string
	FailedReason      string
	CreatedAt         time.Time
	NeoResponseID     string
}

type colRefundData struct {
	MerchantCode      string  `json:"merchantCode"`
	RequestID         string  `json:"requestId"`
	CollectionTransID string  `json:"collectionTransId"`
	RefundTransID     string  `json:"refundTransId"`
	ApprovalStatus    string  `json:"approvalStatus"`
	Status            string  `json:"status"`
	BankSwiftCode     string  `json:"bankSwiftCode"`
	BankAccountNumber string  `json:"bankAccountNumber"`
	BankAccountName   string  `json:"bankAccountName"`
	Amount            flexInt `json:"amount"`
	Note              string  `json:"Note"`
	FailedReason      string  `json:"failedReason"`
	CreatedAt         string  `json:"createdAt"`
}

func (d colRefundData) refund(neoID string) (COLRefund, error) {
	created, err := parseTime(d.CreatedAt)
	if err != nil {
		return COLRefund{}, err
	}
	approval, status := normaliseCOLStatus(d.ApprovalStatus, d.Status)
	return COLRefund{MerchantCode: d.MerchantCode, RequestID: d.RequestID, CollectionTransID: d.CollectionTransID,
		RefundTransID: d.RefundTransID, ApprovalStatus: approval, Status: status,
		BankSwiftCode: d.BankSwiftCode, BankAccountNumber: d.BankAccountNumber, BankAccountName: d.BankAccountName,
		Amount: int64(d.Amount), Note: d.Note, FailedReason: d.FailedReason, CreatedAt: created, NeoResponseID: neoID}, nil
}

// normaliseCOLStatus maps the older payload version (status carrying
// PENDING|APPROVED|REJECTED, no approvalStatus) onto approvalStatus.
func normaliseCOLStatus(approval, status string) (string, string) {
	if approval == "" {
		switch status {
		case "PENDING", "APPROVED", "REJECTED":
			return status, ""
		}
	}
	return approval, status
}

// Refund creates a COL refund request (approval by NeoX follows).
func (c *COL) Refund(ctx context.Context, lang string, r COLRefundRequest) (COLRefund, error) {
	if r.RequestID == "" || r.CollectionTransID == "" || r.Amount <= 0 {
		return COLRefund{}, errors.New("neox COL refund: request id, collection transaction id and a positive amount are required")
	}
	var d colRefundData
	id, err := c.api.call(ctx, lang, "refund", http.MethodPost, "/v2/col/refund-requests", r, &d)
	if err != nil {
		return COLRefund{}, err
	}
	out, err := d.refund(id)
	if err != nil {
		return COLRefund{}, unknown("COL", "refund", "decode: %w", err)
	}
	return out, nil
}

// GetRefund fetches a refund request by our request id. Unknown ids give a
// *RejectedError matching ErrNotFound.
func (c *COL) GetRefund(ctx context.Context, lang, requestID string) (COLRefund, error) {
	if requestID == "" {
		return COLRefund{}, errors.New("neox COL get_refund: empty request id")
	}
	var d colRefundData
	id, err := c.api.call(ctx, lang, "get_refund", http.MethodGet, "/v2/col/refund-requests/"+url.PathEscape(requestID), nil, &d)
	if err != nil {
		return COLRefund{}, err
	}
	out, err := d.refund(id)
	if err != nil {
		return COLRefund{}, unknown("COL", "get_refund", "decode: %w", err)
	}
	return out, nil
}

// MaxCOLPageSize is the largest page NeoX serves.
const MaxCOLPageSize = 500

// COLListQuery filters ListRefunds. Zero PageIndex/PageSize mean 1 and 20;
// zero times are left out; Status matches approvalStatus or status.
type COLListQuery struct {
	PageIndex, PageSize int
	From, To            time.Time
	Status              string
}

// COLRefundPage is one page of refund requests.
type COLRefundPage struct {
	TotalDocs, TotalPages int
	Docs                  []COLRefund
}

// ListRefunds lists refund requests, for reconciliation sweeps.
func (c *COL) ListRefunds(ctx context.Context, lang string, q COLListQuery) (COLRefundPage, error) {
	if q.PageIndex <= 0 {
		q.PageIndex = 1
	}
	if q.PageSize <= 0 {
		q.PageSize = 20
	}
	if q.PageSize > MaxCOLPageSize {
		return COLRefundPage{}, fmt.Errorf("neox COL list_refunds: page size %d over %d", q.PageSize, MaxCOLPageSize)
	}
	v := url.Values{}
	v.Set("pageIndex", strconv.Itoa(q.PageIndex))
	v.Set("pageSize", strconv.Itoa(q.PageSize))
	if !q.From.IsZero() {
		v.Set("dateFr", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("dateTo", q.To.UTC().Format(time.RFC3339))
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	var d struct {
		TotalDocs  flexInt         `json:"totalDocs"`
		TotalPages flexInt         `json:"totalPages"`
		Docs       []colRefundData `json:"docs"`
	}
	id, err := c.api.call(ctx, lang, "list_refunds", http.MethodGet, "/v2/col/refund-requests?"+v.Encode(), nil, &d)
	if err != nil {
		return COLRefundPage{}, err
	}
	page := COLRefundPage{TotalDocs: int(d.TotalDocs), TotalPages: int(d.TotalPages), Docs: make([]COLRefund, 0, len(d.Docs))}
	for _, x := range d.Docs {
		r, err := x.refund(id)
		if err != nil {
			return COLRefundPage{}, unknown("COL", "list_refunds", "decode: %w", err)
		}
		page.Docs = append(page.Docs, r)
	}
	return page, nil
}

// CollectionTransaction is a COL collection transaction (VND) as GET
// v2/col/transactions/{transId} documents it. In that call amount, fee
// and refundedAmount are JSON strings ("150000"); they are whole đồng.
type CollectionTransaction struct {
	ID                      string // transId
	MerchantCode            string // merchantCode
	TransDate               time.Time
	VirtualAccountRequestID string // virtualAccountRequestId
	VirtualAccountID        string // virtualAccountId
	AccountName             string // accountName
	Amount                  int64  // amount
	Fee                     int64  // fee
	RefundedAmount          int64  // refundedAmount: total refunded so far
	Status                  string // status: NeoX publishes no list of values
	ReconcileStatus         string // WAITING_UPLOAD | UPLOADED | APPROVED | REJECTED | RECONCILED | SETTLED
	PayoutStatus            string // READY | PROCESSING | REJECTED | SUCCESS
	Note                    string // Note (capital N in the docs)
	// ServiceInformation (serviceInfomation, sic) and DebitorInformation
	// are objects whose contents NeoX does not document: kept verbatim,
	// never interpreted. DebitorInformation may name the payer's account.
	ServiceInformation json.RawMessage
	DebitorInformation json.RawMessage
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// colTransactionData is the documented data object, field for field.
type colTransactionData struct {
	MerchantCode            string          `json:"merchantCode"`
	TransID                 flexText        `json:"transId"`
	TransDate               flexText        `json:"transDate"`
	VirtualAccountRequestID flexText        `json:"virtualAccountRequestId"`
	VirtualAccountID        flexText        `json:"virtualAccountId"`
	AccountName             string          `json:"accountName"`
	Amount                  flexInt         `json:"amount"`
	Fee                     flexInt         `json:"fee"`
	RefundedAmount          flexInt         `json:"refundedAmount"`
	Status                  string          `json:"status"`
	ReconcileStatus         string          `json:"reconcileStatus"`
	PayoutStatus            string          `json:"payoutStatus"`
	ServiceInfomation       json.RawMessage `json:"serviceInfomation"`
	DebitorInformation      json.RawMessage `json:"debitorInformation"`
	Note                    string          `json:"Note"`
	CreatedAt               flexText        `json:"createdAt"`
	UpdatedAt               flexText        `json:"updatedAt"`
}

// GetCollectionTransaction fetches a collection transaction:
// GET v2/col/transactions/{transId}. Unknown ids give a *RejectedError
// matching ErrNotFound. Dates in a shape NeoX has not shown are left zero
// rather than failing the lookup: nothing the desk decides depends on them.
func (c *COL) GetCollectionTransaction(ctx context.Context, lang, id string) (CollectionTransaction, error) {
	if id == "" {
		return CollectionTransaction{}, errors.New("neox COL get_transaction: empty id")
	}
	var d colTransactionData
	if _, err := c.api.call(ctx, lang, "get_transaction", http.MethodGet, "/v2/col/transactions/"+url.PathEscape(id), nil, &d); err != nil {
		return CollectionTransaction{}, err
	}
	return CollectionTransaction{ID: string(d.TransID), MerchantCode: d.MerchantCode, TransDate: lenientTime(string(d.TransDate)),
		VirtualAccountRequestID: string(d.VirtualAccountRequestID), VirtualAccountID: string(d.VirtualAccountID),
		AccountName: d.AccountName, Amount: int64(d.Amount), Fee: int64(d.Fee), RefundedAmount: int64(d.RefundedAmount),
		Status: d.Status, ReconcileStatus: d.ReconcileStatus, PayoutStatus: d.PayoutStatus, Note: d.Note,
		ServiceInformation: rawObject(d.ServiceInfomation), DebitorInformation: rawObject(d.DebitorInformation),
		CreatedAt: lenientTime(string(d.CreatedAt)), UpdatedAt: lenientTime(string(d.UpdatedAt))}, nil
}

// rawObject keeps a JSON value verbatim; null and absent are nil.
func rawObject(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}
