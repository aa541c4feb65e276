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

// Row statuses: CHECKING until checked, OK and ERROR after the preview,
// CREATED and FAILED after the submit.
const (
	StatusChecking = "CHECKING"
	StatusOK       = "OK"
	StatusError    = "ERROR"
	StatusCreated  = "CREATED"
	StatusFailed   = "FAILED"
)

// Batch states: CHECKING while its rows are checked in the background,
// PREVIEW once every row is, SUBMITTED after the submit; CANCELLED when
// its uploader stopped the check.
const (
	StateChecking  = "CHECKING"
	StatePreview   = "PREVIEW"
	StateSubmitted = "SUBMITTED"
	StateCancelled = "CANCELLED"
)

// Errors.
var (
	// ErrNotFound: no such batch.
	ErrNotFound = fault.New(fault.NotFound, "batch not found")
	// ErrNotYours: the batch belongs to someone else; only its uploader
	// sees or submits it.
	ErrNotYours = fault.New(fault.Forbidden, "batch of another user")
	// ErrNotChecked: the batch's rows are still being checked (or the
	// check was cancelled); nothing of it can be submitted.
	ErrNotChecked = fault.New(fault.Conflict, "batch not checked")
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
	Lines   []Line
	Totals  []Total // of the rows that are OK (or CREATED), by currency
	Errors  int     // rows that are ERROR or FAILED
	Pending int     // rows not checked yet (CHECKING)
}

// Service keeps batches and checks their rows in the background (Run).
// Its methods are safe for concurrent use.
type Service struct {
	db      *store.DB
	refunds *refunds.Service
	rec     Recorder
	policy  policy.Policy
	now     func() time.Time

	opt   CheckOptions
	owner string        // this checker's lease owner id
	wake  chan struct{} // an upload waits to be checked
	sem   chan struct{} // one token per NeoX lookup in progress (opt.Lookups)

	mu      sync.Mutex
	running map[string]context.CancelFunc // batches this process checks now, to stop one at once on cancel
}

// New returns a Service; now nil is time.Now. opt tunes the background
// check (zero fields take the defaults).
func New(db *store.DB, rs *refunds.Service, rec Recorder, p policy.Policy, now func() time.Time, opt CheckOptions) *Service {
	if now == nil {
		now = time.Now
	}
	opt = opt.withDefaults()
	return &Service{db: db, refunds: rs, rec: rec, policy: p, now: func() time.Time { return now().UTC() },
		opt: opt, owner: opt.Owner, wake: make(chan struct{}, 1), sem: make(chan struct{}, opt.Lookups),
		running: map[string]context.CancelFunc{}}
}

// Texts renders an error of a row in the uploader's language.
type Texts func(error) string

func (s *Service) permit(actor refunds.Actor) error {
	if !s.policy.Permits(policy.Actor{ID: actor.ID, Role: actor.Role}, policy.BulkRequest) {
		return fmt.Errorf("%w: %w", refunds.ErrForbidden, &policy.Denial{Action: policy.BulkRequest, Role: actor.Role, Reason: policy.ReasonRole})
	}
	return nil
}

// Upload parses a file and keeps it at once as a batch of actor's in
// state CHECKING, its rows to be checked in the background by Run (rows
// the file itself refuses, and duplicates within it, are ERROR from the
// start; a file with nothing left to ask NeoX is PREVIEW at once). A file
// refused as a whole is a *FileError and keeps nothing. text renders the
// parser's row errors in the uploader's language.
func (s *Service) Upload(ctx context.Context, actor refunds.Actor, fileName string, r io.Reader, text Texts) (Batch, error) {
	if err := s.permit(actor); err != nil {
		return Batch{}, err
	}
	rows, err := Parse(r)
	if err != nil {
		return Batch{}, err
	}
	recs := make([]store.BatchRowRecord, len(rows))
	toCheck := 0
	for i, row := range rows {
		recs[i] = store.BatchRowRecord{RowNo: row.Line, API: row.API, TransactionRef: row.Reference, PaymentID: row.PaymentID,
			AmountText: row.AmountText, Amount: row.Amount, Currency: row.Currency, ReasonCode: row.ReasonCode,
			ReasonText: row.ReasonText, FeeChargeWay: row.FeeChargeWay, SubMerchantID: row.SubMerchantID,
			BankSwift: row.BankSwift, BankAccountNumber: row.BankAccountNumber, BankAccountName: row.BankAccountName,
			BankBranch: row.BankBranch, Status: StatusChecking}
		if row.Err != nil {
			recs[i].Status, recs[i].Message = StatusError, text(row.Err)
		} else {
			toCheck++
		}
	}
	b := store.BatchRecord{ID: uuid.NewString(), UploadedBy: actor.ID, UploadedByName: actor.Name,
		FileName: clip(strings.TrimSpace(fileName), 120), Lang: actor.Lang, State: StateChecking}
	if toCheck == 0 {
		b.State = StatePreview
	}
	err = s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		if err := tx.InsertBatch(ctx, b, recs); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionBatchUploaded, Outcome: audit.OutcomeSuccess, TargetType: "batch", TargetID: b.ID,
			Details: map[string]any{"file": b.FileName, "rows": len(recs), "to_check": toCheck}})
	})
	if err != nil {
		return Batch{}, fmt.Errorf("bulk: keep batch: %w", err)
	}
	s.Wake()
	return Batch{BatchRecord: b}, nil
}

// check runs the refund domain's checks on one row and fills in the
// amount the refund would have.
// lk, when not nil, is NeoX's answer for the row's transaction, shared
// with the file's other rows of it (see answers).
func (s *Service) check(ctx context.Context, actor refunds.Actor, rec *store.BatchRowRecord, lk *refunds.Lookup) error {
	req := request(*rec, actor.Lang, "")
	req.Lookup = lk
	q, err := s.refunds.Check(ctx, actor, req)
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

// own returns actor's batch without its rows. Errors: ErrNotFound,
// ErrNotYours.
func (s *Service) own(ctx context.Context, actor refunds.Actor, id string) (store.BatchRecord, error) {
	if _, err := uuid.Parse(id); err != nil {
		return store.BatchRecord{}, ErrNotFound
	}
	rec, err := s.db.Batch(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return rec, ErrNotFound
	}
	if err != nil {
		return rec, fmt.Errorf("bulk: %w", err)
	}
	if rec.UploadedBy != actor.ID {
		return store.BatchRecord{}, ErrNotYours
	}
	return rec, nil
}

// Get returns a batch of actor's with its rows and totals. Errors:
// ErrNotFound, ErrNotYours.
func (s *Service) Get(ctx context.Context, actor refunds.Actor, id string) (Batch, error) {
	rec, err := s.own(ctx, actor, id)
	if err != nil {
		return Batch{}, err
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
		case StatusChecking:
			b.Pending++
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
	if err != nil {
		return b, err
	}
	switch b.State {
	case StateChecking, StateCancelled:
		return b, ErrNotChecked
	case StateSubmitted:
		return b, nil
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
