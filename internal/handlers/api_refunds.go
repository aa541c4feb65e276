package handlers

// The refunds of /api/v1: create (through refunds.Service.Create, as the
// refund form does), get one, list with the refund list page's filters.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/apikeys"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// apiMaxBody bounds a request body of the API.
const apiMaxBody = 64 << 10

// apiPageSize is a list page's default size, apiMaxPage its largest.
const (
	apiPageSize = 25
	apiMaxPage  = 100
)

// apiRefundRequest is POST /api/v1/refunds's body. Amount is kept raw so
// that only a JSON integer is accepted (never 1.5, 1e3 or "100").
type apiRefundRequest struct {
	API               string          `json:"api"`
	TransactionRef    string          `json:"transaction_ref"`
	PaymentID         string          `json:"payment_id"`
	Amount            json.RawMessage `json:"amount"`
	ReasonCode        string          `json:"reason_code"`
	ReasonText        string          `json:"reason_text"`
	FeeChargeWay      string          `json:"fee_charge_way"`
	SubMerchantID     string          `json:"sub_merchant_id"`
	BankSwift         string          `json:"bank_swift"`
	BankAccountNumber string          `json:"bank_account_number"`
	BankAccountName   string          `json:"bank_account_name"`
	BankBranch        string          `json:"bank_branch"`
}

// apiRefund is a refund as the API returns it. The openapi test checks
// these names against the document's Refund schema. Bank account details
// are never returned.
type apiRefund struct {
	ID                 string  `json:"id"`
	API                string  `json:"api"`
	TransactionRef     string  `json:"transaction_ref"`
	PaymentID          string  `json:"payment_id"`
	Amount             int64   `json:"amount"`
	Currency           string  `json:"currency"`
	ReasonCode         string  `json:"reason_code"`
	ReasonText         string  `json:"reason_text"`
	FeeChargeWay       string  `json:"fee_charge_way"`
	SubMerchantID      string  `json:"sub_merchant_id"`
	Approval           string  `json:"approval"`
	Submission         string  `json:"submission"`
	ApprovalsRequired  int     `json:"approvals_required"`
	RequestedBy        string  `json:"requested_by"`
	RequestedAt        string  `json:"requested_at"`
	DecidedBy          string  `json:"decided_by"`
	DecidedAt          *string `json:"decided_at"`
	DecisionNote       string  `json:"decision_note"`
	NeoXRefundID       string  `json:"neox_refund_id"`
	FailedReason       string  `json:"failed_reason"`
	NeedsAttention     bool    `json:"needs_attention"`
	FinalAt            *string `json:"final_at"`
	UpdatedAt          string  `json:"updated_at"`
	PaymentMethod      string  `json:"payment_method"`
	NeoXApprovalStatus string  `json:"neox_approval_status"`
}

func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func apiTimeOrNull(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := apiTime(t)
	return &s
}

func toAPIRefund(r refunds.Refund) apiRefund {
	return apiRefund{ID: r.ID, API: string(r.API), TransactionRef: r.TransactionRef, PaymentID: r.PaymentID, Amount: r.Amount,
		Currency: r.Currency, ReasonCode: r.ReasonCode, ReasonText: r.ReasonText, FeeChargeWay: r.FeeChargeWay,
		SubMerchantID: r.SubMerchantID, Approval: r.Approval, Submission: r.Submission, ApprovalsRequired: max(r.Rule.Required, 0),
		RequestedBy: r.RequestedByName, RequestedAt: apiTime(r.RequestedAt), DecidedBy: r.DecidedByName,
		DecidedAt: apiTimeOrNull(r.DecidedAt), DecisionNote: r.DecisionNote, NeoXRefundID: r.NeoXRefundID,
		FailedReason: r.FailedReason, NeedsAttention: r.NeedsAttention(), FinalAt: apiTimeOrNull(r.FinalAt),
		UpdatedAt: apiTime(r.UpdatedAt), PaymentMethod: r.PaymentMethod, NeoXApprovalStatus: r.NeoXApprovalStatus}
}

// invalid answers 400 with one message per field.
func invalid(w http.ResponseWriter, detail string, fields map[string]string) {
	p := apiProblem{Type: problemType("invalid-request"), Title: "Invalid request", Status: http.StatusBadRequest, Detail: detail}
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		p.Errors = append(p.Errors, fieldProblem{Field: f, Detail: fields[f]})
	}
	writeProblem(w, p)
}

// apiFail turns a domain error into a problem, with the words the pages
// use (Server.problem), in the request's language.
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	if fields, ok := fault.FieldsOf(err); ok {
		texts := fieldTexts(r.Context(), fields)
		if msg, ok := texts["form"]; ok {
			delete(texts, "form")
			texts[""] = msg
		}
		invalid(w, "The refund cannot be requested as sent.", texts)
		return
	}
	switch {
	case errors.Is(err, refunds.ErrNotFound) && r.Method == http.MethodPost, errors.Is(err, neox.ErrNotFound):
		invalid(w, "", map[string]string{"transaction_ref": i18n.T(r.Context(), "tx.unknown_ref")})
		return
	case errors.Is(err, refunds.ErrNotConfigured):
		invalid(w, "", map[string]string{"api": i18n.T(r.Context(), "tx.not_configured")})
		return
	}
	p := s.problem(r, err, doneRequest)
	switch p.kind {
	case fault.Internal:
		s.log.ErrorContext(r.Context(), "api request failed", "err", err, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
	case fault.Refused, fault.Unavailable:
		s.log.WarnContext(r.Context(), "NeoX call failed", "err", err, "path", r.URL.Path, "request_id", requestIDFrom(r.Context()))
	}
	writeProblem(w, apiProblem{Type: problemType(slug(p.kind)), Title: p.heading, Status: p.status, Detail: p.text})
}

func slug(k fault.Kind) string {
	switch k {
	case fault.NotFound:
		return "not-found"
	case fault.Forbidden:
		return "forbidden"
	case fault.Conflict:
		return "conflict"
	case fault.Invalid:
		return "invalid-request"
	case fault.Refused:
		return "neox-refused"
	case fault.Unavailable:
		return "neox-unavailable"
	}
	return "internal"
}

var (
	integerJSON    = regexp.MustCompile(`^-?[0-9]+$`)
	idempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
)

// readRefundRequest reads and checks the body's shape: JSON, at most
// apiMaxBody, no unknown field, the amount an integer. ok is false when
// it has answered.
func (s *Server) readRefundRequest(w http.ResponseWriter, r *http.Request) (refunds.NewRequest, []byte, bool) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeProblem(w, apiProblem{Type: problemType("unsupported-media-type"), Title: "Unsupported media type",
			Status: http.StatusUnsupportedMediaType, Detail: "Send the refund as Content-Type: application/json."})
		return refunds.NewRequest{}, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, apiMaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeProblem(w, apiProblem{Type: problemType("too-large"), Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("A request body may have at most %d bytes.", apiMaxBody)})
		return refunds.NewRequest{}, nil, false
	} else if err != nil {
		invalid(w, "The request body could not be read.", nil)
		return refunds.NewRequest{}, nil, false
	}
	var in apiRefundRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(&in)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	} else if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute) && ute.Field != "":
			invalid(w, "", map[string]string{ute.Field: "must be a JSON " + ute.Type.Kind().String()})
		case unknownField(err) != "":
			invalid(w, "", map[string]string{unknownField(err): "unknown field"})
		default:
			invalid(w, "The body must be one JSON object.", nil)
		}
		return refunds.NewRequest{}, nil, false
	}
	req := refunds.NewRequest{API: refunds.API(in.API), TransactionRef: in.TransactionRef, PaymentID: in.PaymentID,
		ReasonCode: in.ReasonCode, ReasonText: in.ReasonText, FeeChargeWay: in.FeeChargeWay, SubMerchantID: in.SubMerchantID,
		BankSwift: in.BankSwift, BankAccountNumber: in.BankAccountNumber, BankAccountName: in.BankAccountName,
		BankBranch: in.BankBranch, Lang: string(i18n.From(r.Context()))}
	raw := bytes.TrimSpace(in.Amount)
	in.Amount = json.RawMessage("null")
	if len(raw) > 0 && string(raw) != "null" {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		switch {
		case !integerJSON.Match(raw) || err != nil:
			// Every field's error at once, as the form does: the domain's
			// checks that need no NeoX run on the rest.
			errs := fieldTexts(r.Context(), s.prechecked(req))
			errs["amount"] = "must be a whole number of the currency's minor units (e.g. 150000 for 150.000 ₫)"
			invalid(w, "", errs)
			return req, nil, false
		case n <= 0 || n > refunds.MaxAmount:
			errs := fieldTexts(r.Context(), s.prechecked(req))
			errs["amount"] = fmt.Sprintf("must be from 1 to %d", refunds.MaxAmount)
			invalid(w, "", errs)
			return req, nil, false
		}
		req.Amount = n
		in.Amount = json.RawMessage(strconv.FormatInt(n, 10))
	}
	// What a retry must repeat: the body as read (not its spacing or the
	// order of its fields).
	canon, err := json.Marshal(in)
	return req, canon, err == nil
}

// prechecked is what the refund's product and the desk's rules find wrong
// with req without NeoX, if anything (a registered product's own form
// rules included).
func (s *Server) prechecked(req refunds.NewRequest) fault.Fields {
	if ve := s.refunds.Precheck(req, false); ve != nil {
		return ve.Fields
	}
	return fault.Fields{}
}

// unknownField is the field named by encoding/json's unknown-field error.
func unknownField(err error) string {
	const p = `json: unknown field "`
	msg := err.Error()
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p) : len(msg)-1]
	}
	return ""
}

// handleAPIRefundCreate serves POST /api/v1/refunds: a refund request, into
// the approval queue like one from the form. With an Idempotency-Key, the
// first answer that created a refund is stored with the request's hash: a
// retry with the same body gets it again (Idempotent-Replayed: true), the
// same key with another body is a 422.
func (s *Server) handleAPIRefundCreate(w http.ResponseWriter, r *http.Request) {
	k, _ := keyFrom(r.Context())
	idem := r.Header.Get("Idempotency-Key")
	if r.Header.Values("Idempotency-Key") != nil && !idempotencyKey.MatchString(idem) {
		invalid(w, "", map[string]string{"Idempotency-Key": "1 to 64 printable ASCII characters"})
		return
	}
	req, canon, ok := s.readRefundRequest(w, r)
	if !ok {
		return
	}
	hash := apikeys.Hash(canon)
	if idem != "" {
		prev, err := s.keys.Replay(r.Context(), k.ID, idem)
		switch {
		case err == nil:
			s.replay(w, prev, hash)
			return
		case !errors.Is(err, store.ErrNotFound):
			s.apiFail(w, r, err)
			return
		}
		// The refund's own idempotency key, so that concurrent retries
		// that all missed the record above still create one refund.
		req.IdempotencyKey = fmt.Sprintf("api:%d:%s", k.ID, idem)
	}
	actor := actorOfKey(r, k)
	ref, err := s.refunds.Create(r.Context(), actor, req)
	if errors.Is(err, refunds.ErrTokenReused) {
		idemMismatch(w)
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	body, err := json.Marshal(toAPIRefund(ref))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	body = append(body, '\n')
	w.Header().Set("Location", "/api/v1/refunds/"+ref.ID)
	if idem == "" {
		writeRawJSON(w, http.StatusCreated, body)
		return
	}
	stored, err := s.keys.Remember(r.Context(), store.IdempotencyRecord{KeyID: k.ID, IdempotencyKey: idem, RequestHash: hash,
		Status: http.StatusCreated, Response: string(body), RefundID: ref.ID})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if stored.RefundID != ref.ID || stored.Response != string(body) {
		s.replay(w, stored, hash) // a concurrent retry answered first: give its answer
		return
	}
	writeRawJSON(w, http.StatusCreated, body)
}

// replay answers with a stored response, or 422 when the request differs.
func (s *Server) replay(w http.ResponseWriter, prev store.IdempotencyRecord, hash string) {
	if prev.RequestHash != hash {
		idemMismatch(w)
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	if prev.RefundID != "" {
		w.Header().Set("Location", "/api/v1/refunds/"+prev.RefundID)
	}
	writeRawJSON(w, prev.Status, []byte(prev.Response))
}

func idemMismatch(w http.ResponseWriter) {
	writeProblem(w, apiProblem{Type: problemType("idempotency-key-reused"), Title: "Idempotency key reused", Status: http.StatusUnprocessableEntity,
		Detail: "This Idempotency-Key was used with a different request; use a new key for a new refund."})
}

// actorOfKey is k acting on refunds.
func actorOfKey(r *http.Request, k apikeys.Key) refunds.Actor {
	pa := k.Policy()
	return refunds.Actor{ID: pa.ID, Name: k.ActorName(), Role: pa.Role, Scopes: pa.Scopes, Lang: string(i18n.From(r.Context()))}
}

// handleAPIRefund serves GET /api/v1/refunds/{id}.
func (s *Server) handleAPIRefund(w http.ResponseWriter, r *http.Request) {
	k, _ := keyFrom(r.Context())
	if _, err := uuid.Parse(r.PathValue("id")); err != nil {
		handleAPINotFound(w, r)
		return
	}
	ref, err := s.refunds.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, refunds.ErrNotFound) {
		handleAPINotFound(w, r)
		return
	} else if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.policy.Decide(k.Policy(), policy.View, ref.Subject()); err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIRefund(ref))
}

// apiRefundPage is a page of GET /api/v1/refunds.
type apiRefundPage struct {
	Refunds    []apiRefund `json:"refunds"`
	NextCursor string      `json:"next_cursor"`
}

// handleAPIRefunds serves GET /api/v1/refunds: the refund list page's
// filters (status, api, requester, from, to, on, min, max, currency, q,
// failure, sort, dir), keyset pages by cursor and limit.
func (s *Server) handleAPIRefunds(w http.ResponseWriter, r *http.Request) {
	k, _ := keyFrom(r.Context())
	q := r.URL.Query()
	f, form := parseRefundFilter(q, s.policy, k.Policy(), s.zone, s.refunds.ProductNames())
	localizeErrors(r.Context(), form.Errors)
	errs := map[string]string(form.Errors)
	limit := apiPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiMaxPage {
			errs["limit"] = fmt.Sprintf("a whole number from 1 to %d", apiMaxPage)
		}
		limit = n
	}
	if len(errs) > 0 {
		invalid(w, "", errs)
		return
	}
	rows, next, err := s.refunds.List(r.Context(), f, refunds.Cursor(q.Get("cursor")), limit)
	if _, bad := refunds.IsValidation(err); bad {
		invalid(w, "", map[string]string{"cursor": "not a cursor this list gave"})
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	page := apiRefundPage{Refunds: make([]apiRefund, 0, len(rows)), NextCursor: string(next)}
	for _, ref := range rows {
		page.Refunds = append(page.Refunds, toAPIRefund(ref))
	}
	writeJSON(w, http.StatusOK, page)
}
