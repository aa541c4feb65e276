package neox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GC is a client of NeoX Global Collections.
type GC struct{ api *openAPI }

// NewGC returns a GC client. cfg.Scope defaults to "global-collection".
// hc nil means a default client.
func NewGC(cfg OpenAPIConfig, hc *http.Client) *GC {
	if cfg.Scope == "" {
		cfg.Scope = GCScope
	}
	return &GC{api: newOpenAPI("GC", cfg, hc)}
}

// GCRefundRequest refunds a whole collection order (GC has no amount).
type GCRefundRequest struct {
	RequestID         string `json:"requestId"`
	CollectionOrderID string `json:"collectionOrderId"`
	FeeChargeWay      string `json:"feeChargeWay"` // OUR (merchant bears fee) | BEN (payer bears fee)
	SubMerchantID     string `json:"subMerchantId,omitempty"`
}

// GCRefundResult is NeoX's answer to an accepted GC refund request.
type GCRefundResult struct {
	CollectionOrderID string
	RefundRequestID   string // NeoX refund id
	Status            string // PROCESSING | SUCCESS | FAILED
	NeoResponseID     string
}

// Refund creates a refund request for a collection order. The final
// outcome arrives by REFUND webhook or by polling GetCollectionOrder.
func (g *GC) Refund(ctx context.Context, lang string, r GCRefundRequest) (GCRefundResult, error) {
	if r.RequestID == "" || r.CollectionOrderID == "" {
		return GCRefundResult{}, errors.New("neox GC refund: request id and collection order id are required")
	}
	if r.FeeChargeWay != "OUR" && r.FeeChargeWay != "BEN" {
		return GCRefundResult{}, fmt.Errorf("neox GC refund: feeChargeWay %q is not OUR or BEN", r.FeeChargeWay)
	}
	var data struct {
		CollectionOrderID string `json:"collectionOrderId"`
		RefundRequestID   string `json:"refundRequestId"`
		Status            string `json:"status"`
	}
	id, err := g.api.call(ctx, lang, "refund", http.MethodPost, "/v2/gc/refund-requests", r, &data)
	if err != nil {
		return GCRefundResult{}, err
	}
	return GCRefundResult{CollectionOrderID: data.CollectionOrderID, RefundRequestID: data.RefundRequestID,
		Status: data.Status, NeoResponseID: id}, nil
}

// CollectionOrder is a GC collection order as GET
// /v2/gc/collection-orders/{collectionOrderId} documents it. Amounts are in
// minor units of their currency (USD 1500.00 → 150000; JPY and VND have
// none), converted exactly from NeoX's JSON numbers; see CurrencyExponent.
type CollectionOrder struct {
	ID          string // orderId: the collection order id (collectionOrderId in webhooks and refunds)
	RequestID   string // requestId
	MerchantID  string // merchantId
	Status      string // WAIT_MATCH | MATCHED | REJ_WAIT_MATCH | PENDING | SUCCESS | CANCEL | REFUND_PROCESS | REFUND_SUCCESS
	OrderType   string // RECHARGE | TRADE_COLLECTION | PLATFORM_COLLECTION
	Currency    string // currency (ISO 4217) of Amount
	Amount      int64  // amount: what the bank first notified, in minor units of Currency
	PayCurrency string // payCurrency (ISO 4217) of PayAmount; Currency when NeoX sends none
	PayAmount   int64  // payAmount: what was actually settled, in minor units of PayCurrency
	RecBankCode string // recBankCode
}

// gcOrderData is the documented data object, field for field. Amounts are
// JSON numbers; flexText keeps their text so no float ever touches them.
type gcOrderData struct {
	RequestID   flexText `json:"requestId"`
	OrderID     flexText `json:"orderId"`
	MerchantID  flexText `json:"merchantId"`
	Amount      flexText `json:"amount"`
	PayAmount   flexText `json:"payAmount"`
	Currency    string   `json:"currency"`
	PayCurrency string   `json:"payCurrency"`
	OrderType   string   `json:"orderType"`
	Status      string   `json:"status"`
	RecBankCode string   `json:"recBankCode"`
}

// GetCollectionOrder fetches a collection order:
// GET /v2/gc/collection-orders/{collectionOrderId}, with the optional
// subMerchantId query parameter sent when subMerchantID is not empty (NeoX
// wants it for orders of a sub-merchant). Unknown ids give a
// *RejectedError matching ErrNotFound; a payAmount NeoX leaves out (an
// order not yet settled) is 0.
func (g *GC) GetCollectionOrder(ctx context.Context, lang, id, subMerchantID string) (CollectionOrder, error) {
	if id == "" {
		return CollectionOrder{}, errors.New("neox GC get_order: empty id")
	}
	path := "/v2/gc/collection-orders/" + url.PathEscape(id)
	if subMerchantID != "" {
		path += "?" + url.Values{"subMerchantId": {subMerchantID}}.Encode()
	}
	var d gcOrderData
	if _, err := g.api.call(ctx, lang, "get_order", http.MethodGet, path, nil, &d); err != nil {
		return CollectionOrder{}, err
	}
	amount, err := toMinor(string(d.Amount), d.Currency)
	if err != nil {
		return CollectionOrder{}, unknown("GC", "get_order", "amount: %w", err)
	}
	payCur := d.PayCurrency
	if payCur == "" { // not settled yet, or settled in the order currency
		payCur = d.Currency
	}
	var pay int64
	if strings.TrimSpace(string(d.PayAmount)) != "" {
		if pay, err = toMinor(string(d.PayAmount), payCur); err != nil {
			return CollectionOrder{}, unknown("GC", "get_order", "payAmount: %w", err)
		}
	}
	return CollectionOrder{ID: string(d.OrderID), RequestID: string(d.RequestID), MerchantID: string(d.MerchantID),
		Status: d.Status, OrderType: d.OrderType, Currency: d.Currency, Amount: amount,
		PayCurrency: payCur, PayAmount: pay, RecBankCode: d.RecBankCode}, nil
}

// parseTime accepts the ISO 8601 shapes NeoX uses; "" is the zero time.
// A time without a zone is taken as UTC.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not ISO 8601", s)
}

// lenientTime reads a date NeoX shows but the desk only displays: an ISO
// 8601 string, or a number of epoch seconds or milliseconds. Anything else
// is the zero time, never an error.
func lenientTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if t, err := parseTime(s); err == nil {
		return t
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n > 1e11 { // milliseconds
			return time.UnixMilli(n).UTC()
		}
		return time.Unix(n, 0).UTC()
	}
	return time.Time{}
}
