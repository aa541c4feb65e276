package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Row statuses: OK and ERROR after the preview, CREATED and FAILED after
// the submit.
const (
	StatusOK      = "OK"
	StatusError   = "ERROR"
	StatusCreated = "CREATED"
	StatusFailed  = "FAILED"
)

// Batch states.
const (
	StatePreview   = "PREVIEW"
	StateSubmitted = "SUBMITTED"
)

// Errors.
var (
	// ErrNotFound: no such batch.
	ErrNotFound = fault.New(fault.NotFound, "batch not found")
	// ErrNotYours: the batch belongs to someone else; only its uploader
	// sees or submits it.
	ErrNotYours = fault.New(fault.Forbidden, "batch of another user")
)

// Recorder appends audit events inside a store transaction.
type Recorder interface {
	Record(ctx context.Context, tx *store.Tx, e audit.Event) error
}

// Line is one row of a batch as kept.
type Line store.BatchRowRecord

// Total is the sum of a batch's valid rows in one currency.
type Total struct {
	Currency string
	Count    int
	Amount   int64
}

// Batch is an uploaded file with each row's verdict.
type Batch struct {
	store.BatchRecord
	Lines  []Line
	Totals []Total // of the rows that are OK (or CREATED), by currency
	Errors int     // rows that are ERROR or FAILED
}

// Service keeps batches. Its methods are safe for concurrent use.
type Service struct {
	db      *store.DB
	refunds *refunds.Service
	rec     Recorder
	policy  policy.Policy
	now     func() time.Time
}

// New returns a Service; now nil is time.Now.
func New(db *store.DB, rs *refunds.Service, rec Recorder, p policy.Policy, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, refunds: rs, rec: rec, policy: p, now: func() time.Time { return now().UTC() }}
}

// Texts renders an error of a row in the uploader's language.
type Texts func(error) string

func (s *Service) permit(actor refunds.Actor) error {
	if !s.policy.Permits(policy.Actor{ID: actor.ID, Role: actor.Role}, policy.BulkRequest) {
		return fmt.Errorf("%w: %w", refunds.ErrForbidden, &policy.Denial{Action: policy.BulkRequest, Role: actor.Role, Reason: policy.ReasonRole})
	}
	return nil
}

// lookups is how many rows of one file are checked at once: each check
// asks NeoX, so a file previews in a fraction of one-by-one time without
// flooding NeoX.
const lookups = 4

// Preview parses a file, checks every row as the refund form would
// (refunds.Service.Check: the same rules and the same NeoX lookup), flags
// duplicates within the file and refunds already in flight for the same
// target, and keeps the batch for its uploader. A file refused as a whole
// is a *FileError and keeps nothing; so is a cancelled request.
func (s *Service) Preview(ctx context.Context, actor refunds.Actor, fileName string, r io.Reader, text Texts) (Batch, error) {
	if err := s.permit(actor); err != nil {
		return Batch{}, err
	}
	rows, err := Parse(r)
	if err != nil {
		return Batch{}, err
	}
	recs := make([]store.BatchRowRecord, len(rows))
	for i, row := range rows {
		recs[i] = store.BatchRowRecord{RowNo: row.Line, API: row.API, TransactionRef: row.Reference, PaymentID: row.PaymentID,
			AmountText: row.AmountText, Amount: row.Amount, Currency: row.Currency, ReasonCode: row.ReasonCode,
			ReasonText: row.ReasonText, FeeChargeWay: row.FeeChargeWay, SubMerchantID: row.SubMerchantID,
			BankSwift: row.BankSwift, BankAccountNumber: row.BankAccountNumber, BankAccountName: row.BankAccountName,
			BankBranch: row.BankBranch, Status: StatusOK}
		if row.Err != nil {
			recs[i].Status, recs[i].Message = StatusError, text(row.Err)
		}
	}
	// Each worker owns the rows it takes: no two touch the same record.
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range lookups {
		wg.Go(func() {
			for i := range jobs {
				if err := s.check(ctx, actor, &recs[i]); err != nil && ctx.Err() == nil {
					recs[i].Status, recs[i].Message = StatusError, text(err)
				}
			}
		})
	}
feed:
	for i := range recs {
		if recs[i].Status != StatusOK {
			continue
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Batch{}, err
	}
	b := store.BatchRecord{ID: uuid.NewString(), UploadedBy: actor.ID, UploadedByName: actor.Name,
		FileName: clip(strings.TrimSpace(fileName), 120), Lang: actor.Lang}
	ok := 0
	for _, r := range recs {
		if r.Status == StatusOK {
			ok++
		}
	}
	err = s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		if err := tx.InsertBatch(ctx, b, recs); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionBatchUploaded, Outcome: audit.OutcomeSuccess, TargetType: "batch", TargetID: b.ID,
			Details: map[string]any{"file": b.FileName, "rows": len(recs), "valid": ok}})
	})
	if err != nil {
		return Batch{}, fmt.Errorf("bulk: keep batch: %w", err)
	}
	return s.Get(ctx, actor, b.ID)
}

// check runs the refund domain's checks on one row and fills in the
// amount and currency the refund would have.
func (s *Service) check(ctx context.Context, actor refunds.Actor, rec *store.BatchRowRecord) error {
	q, err := s.refunds.Check(ctx, actor, request(*rec, actor.Lang, ""))
	if err != nil {
		return err
	}
	if rec.Currency == "" {
		return fault.M("bulk.err_no_currency", "enter the currency: %s for this refund", q.Currency)
	}
	if rec.Currency != q.Currency {
		return fault.M("bulk.err_currency", "the file says %s; this refund would be in %s", clip(rec.Currency, 8), q.Currency)
	}
	if q.InFlight > 0 {
		return fault.M("bulk.err_in_flight", "a refund of this payment is already awaiting approval or in progress")
	}
	rec.Amount = q.Amount
	return nil
}

func request(r store.BatchRowRecord, lang, key string) refunds.NewRequest {
	return refunds.NewRequest{API: refunds.API(r.API), TransactionRef: r.TransactionRef, PaymentID: r.PaymentID,
		Amount: r.Amount, ReasonCode: r.ReasonCode, ReasonText: r.ReasonText, FeeChargeWay: r.FeeChargeWay,
		SubMerchantID: r.SubMerchantID, BankSwift: r.BankSwift, BankAccountNumber: r.BankAccountNumber,
		BankAccountName: r.BankAccountName, BankBranch: r.BankBranch, IdempotencyKey: key, Lang: lang}
}

// Get returns a batch of actor's with its rows and totals. Errors:
// ErrNotFound, ErrNotYours.
func (s *Service) Get(ctx context.Context, actor refunds.Actor, id string) (Batch, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Batch{}, ErrNotFound
	}
	rec, err := s.db.Batch(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Batch{}, ErrNotFound
	}
	if err != nil {
		return Batch{}, fmt.Errorf("bulk: %w", err)
	}
	if rec.UploadedBy != actor.ID {
		return Batch{}, ErrNotYours
	}
	rows, err := s.db.BatchRows(ctx, id)
	if err != nil {
		return Batch{}, fmt.Errorf("bulk: %w", err)
	}
	b := Batch{BatchRecord: rec}
	by := map[string]*Total{}
	for _, r := range rows {
		b.Lines = append(b.Lines, Line(r))
		switch r.Status {
		case StatusOK, StatusCreated:
			t := by[r.Currency]
			if t == nil {
				t = &Total{Currency: r.Currency}
				by[r.Currency] = t
			}
			t.Count++
			t.Amount += r.Amount
		default:
			b.Errors++
		}
	}
	for _, t := range by {
		b.Totals = append(b.Totals, *t)
	}
	slices.SortFunc(b.Totals, func(x, y Total) int { return strings.Compare(x.Currency, y.Currency) })
	return b, nil
}

// List returns actor's batches, newest first (at most 100).
// Their rows are not read.
func (s *Service) List(ctx context.Context, actor refunds.Actor) ([]Batch, error) {
	bs, err := s.db.BatchesBy(ctx, actor.ID, 100)
	if err != nil {
		return nil, fmt.Errorf("bulk: %w", err)
	}
	out := make([]Batch, len(bs))
	for i, b := range bs {
		out[i] = Batch{BatchRecord: b}
	}
	return out, nil
}

// Submit makes each OK row of actor's batch a refund request
// (refunds.Service.Create: its own id, the approval policy, the same audit
// rows as a person's request) and records each row's outcome. It is
// idempotent: every row's request carries a key derived from the batch and
// the line, so a repeated or concurrent submit returns the refunds already
// created and creates nothing twice; a submitted batch is returned as it
// is. Errors: ErrNotFound, ErrNotYours, ErrForbidden.
func (s *Service) Submit(ctx context.Context, actor refunds.Actor, id string, text Texts) (Batch, error) {
	if err := s.permit(actor); err != nil {
		return Batch{}, err
	}
	b, err := s.Get(ctx, actor, id)
	if err != nil || b.State != StatePreview {
		return b, err
	}
	created, failed := 0, 0
	for _, l := range b.Lines {
		if l.Status != StatusOK {
			continue
		}
		key := "batch:" + b.ID + ":" + strconv.Itoa(l.RowNo)
		ref, err := s.refunds.Create(ctx, actor, request(store.BatchRowRecord(l), b.Lang, key))
		status, msg, refID := StatusCreated, "", ref.ID
		if err != nil {
			if ctx.Err() != nil {
				return Batch{}, ctx.Err()
			}
			status, msg, refID = StatusFailed, text(err), ""
			failed++
		} else {
			created++
		}
		if err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
			return tx.SetBatchRowOutcome(ctx, b.ID, l.RowNo, status, msg, refID)
		}); err != nil {
			return Batch{}, fmt.Errorf("bulk: %w", err)
		}
	}
	err = s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		ok, err := tx.MarkBatchSubmitted(ctx, b.ID)
		if err != nil || !ok {
			return err // !ok: a concurrent submit finished first and audited it
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionBatchSubmitted, Outcome: audit.OutcomeSuccess, TargetType: "batch", TargetID: b.ID,
			Details: map[string]any{"created": created, "failed": failed, "rows": len(b.Lines)}})
	})
	if err != nil {
		return Batch{}, fmt.Errorf("bulk: %w", err)
	}
	return s.Get(ctx, actor, id)
}
