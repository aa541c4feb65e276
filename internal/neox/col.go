package neox

import (
	"context"
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
	Note              string  `json:"note"`
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
func (c *COL) Refund(ctx context.Context, r COLRefundRequest) (COLRefund, error) {
	if r.RequestID == "" || r.CollectionTransID == "" || r.Amount <= 0 {
		return COLRefund{}, errors.New("neox COL refund: request id, collection transaction id and a positive amount are required")
	}
	var d colRefundData
	id, err := c.api.call(ctx, "refund", http.MethodPost, "/v2/col/refund-requests", r, &d)
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
func (c *COL) GetRefund(ctx context.Context, requestID string) (COLRefund, error) {
	if requestID == "" {
		return COLRefund{}, errors.New("neox COL get_refund: empty request id")
	}
	var d colRefundData
	id, err := c.api.call(ctx, "get_refund", http.MethodGet, "/v2/col/refund-requests/"+url.PathEscape(requestID), nil, &d)
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
func (c *COL) ListRefunds(ctx context.Context, q COLListQuery) (COLRefundPage, error) {
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
	id, err := c.api.call(ctx, "list_refunds", http.MethodGet, "/v2/col/refund-requests?"+v.Encode(), nil, &d)
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

// CollectionTransaction is a COL collection transaction (VND).
type CollectionTransaction struct {
	ID             string
	Status         string
	Amount         int64
	RefundedAmount int64
	CreatedAt      time.Time
}

// GetCollectionTransaction fetches a collection transaction. The path
// GET /v2/col/transactions/{id} is an assumption: the docs list a "get
// detail transaction" API without its path. Unknown ids give a
// *RejectedError matching ErrNotFound.
func (c *COL) GetCollectionTransaction(ctx context.Context, id string) (CollectionTransaction, error) {
	if id == "" {
		return CollectionTransaction{}, errors.New("neox COL get_transaction: empty id")
	}
	var d struct {
		ID                string  `json:"id"`
		CollectionTransID string  `json:"collectionTransId"`
		Status            string  `json:"status"`
		Amount            flexInt `json:"amount"`
		RefundedAmount    flexInt `json:"refundedAmount"`
		CreatedAt         string  `json:"createdAt"`
	}
	if _, err := c.api.call(ctx, "get_transaction", http.MethodGet, "/v2/col/transactions/"+url.PathEscape(id), nil, &d); err != nil {
		return CollectionTransaction{}, err
	}
	created, err := parseTime(d.CreatedAt)
	if err != nil {
		return CollectionTransaction{}, unknown("COL", "get_transaction", "createdAt: %w", err)
	}
	tid := d.ID
	if tid == "" {
		tid = d.CollectionTransID
	}
	return CollectionTransaction{ID: tid, Status: d.Status, Amount: int64(d.Amount),
		RefundedAmount: int64(d.RefundedAmount), CreatedAt: created}, nil
}
