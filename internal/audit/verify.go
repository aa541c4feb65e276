package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Anchor is where verification starts: the seq of the first row to check
// and the prev_hash that row must carry. The zero Anchor is the genesis
// (seq 1, GenesisHash). After archiving the rows before N, verify from
// Anchor{Seq: N, PrevHash: <hash of row N-1 as recorded at archive time>}.
type Anchor struct {
	Seq      int64
	PrevHash string
}

// String renders a as "SEQ:PREV_HASH", the form ParseAnchor reads (for an
// `audit verify -from` flag and for the operator's archive notes).
func (a Anchor) String() string { return strconv.FormatInt(a.Seq, 10) + ":" + a.PrevHash }

// ErrBadAnchor is returned by ParseAnchor.
var ErrBadAnchor = errors.New("audit: bad anchor, want SEQ:PREV_HASH (64 hex digits)")

// ParseAnchor reads "SEQ:PREV_HASH"; "" is the zero Anchor (genesis).
func ParseAnchor(s string) (Anchor, error) {
	if s == "" {
		return Anchor{}, nil
	}
	seqText, h, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	h = strings.ToLower(h)
	if !ok || err != nil || seq < 1 || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return Anchor{}, fmt.Errorf("%w: %q", ErrBadAnchor, s)
	}
	return Anchor{Seq: seq, PrevHash: h}, nil
}

// ChainStatus is the outcome of Verify.
//
// OK: every row from the anchor to the head links and hashes correctly;
// VerifiedSeq/VerifiedAt/HeadHash describe the last row ("verified up to
// event N at time T"). Not OK: BrokenSeq is the first seq that does not
// verify (for a deleted row, the missing seq) and Problem says why;
// VerifiedSeq is the last good row before it. Count is the number of rows
// that verified.
type ChainStatus struct {
	OK          bool
	VerifiedSeq int64
	VerifiedAt  time.Time
	HeadHash    string // hash of VerifiedSeq; keep it outside the database to detect truncation later
	BrokenSeq   int64
	Problem     string
	Count       int64
}

// String is the one-line summary for the UI and the CLI.
func (s ChainStatus) String() string {
	if s.OK {
		if s.Count == 0 {
			return "audit chain: no events to verify"
		}
		return fmt.Sprintf("audit chain verified: %d events up to event %d at %s (head hash %s)",
			s.Count, s.VerifiedSeq, s.VerifiedAt.UTC().Format(time.RFC3339), s.HeadHash)
	}
	return fmt.Sprintf("audit chain BROKEN at event %d: %s (verified %d events up to event %d)",
		s.BrokenSeq, s.Problem, s.Count, s.VerifiedSeq)
}

// Verify re-computes the chain from the anchor to the newest row, streaming
// rows in seq order on one read snapshot, and stops at the first row that
// does not verify. A broken chain is reported in the status, not as an
// error; the error is for failing to read. It detects an edited row (hash
// mismatch), a deleted row (seq gap), and reordered or swapped rows
// (prev_hash mismatch). Removing rows at the head leaves a valid shorter
// chain: it is only detectable against a head kept elsewhere (a signed
// Checkpoint, an export's trailer), which CheckHead compares.
func (l *Log) Verify(ctx context.Context, from Anchor) (ChainStatus, error) {
	return verifyChain(from, func(start int64, each func(*row) error) (store.AuditHead, bool, error) {
		return l.db.AuditChain(ctx, start, each)
	})
}

// VerifyProgress is Verify that calls step with the seq of each event it
// has verified, so a page can say how far a long pass has come (a call per
// row: step must be cheap, such as storing into an atomic).
func (l *Log) VerifyProgress(ctx context.Context, from Anchor, step func(seq int64)) (ChainStatus, error) {
	return verifyChain(from, func(start int64, each func(*row) error) (store.AuditHead, bool, error) {
		return l.db.AuditChain(ctx, start, func(r *row) error {
			if err := each(r); err != nil {
				return err
			}
			step(r.Seq)
			return nil
		})
	})
}

// chainSource streams the events from start in seq order to each and
// returns the chain's head row, on one snapshot: the read pool's, or a
// write transaction's that must see its own uncommitted rows (Checkpoint).
type chainSource func(start int64, each func(*row) error) (head store.AuditHead, present bool, err error)

// errBroken stops the walk at the first row that does not verify.
var errBroken = errors.New("audit: chain broken")

// verifyChain is Verify over src. After the rows it checks the head row the
// store keeps in step with every append: a trail cut at its end still
// links, but no longer reaches the head row, unless that was rewound too.
func verifyChain(from Anchor, src chainSource) (ChainStatus, error) {
	wantSeq, wantPrev := from.Seq, from.PrevHash
	if wantSeq <= 0 {
		wantSeq = 1
	}
	if wantPrev == "" {
		wantPrev = GenesisHash
	}
	st := ChainStatus{VerifiedSeq: wantSeq - 1}
	hs := store.NewAuditHasher()
	broken := func(seq int64, format string, a ...any) error {
		st.BrokenSeq, st.Problem = seq, fmt.Sprintf(format, a...)
		return errBroken
	}
	head, present, err := src(wantSeq, func(r *row) error {
		switch {
		case r.Seq != wantSeq:
			return broken(wantSeq, "event %d is missing (next stored event is %d): rows deleted", wantSeq, r.Seq)
		case r.PrevHash != wantPrev:
			return broken(r.Seq, "prev_hash does not match the hash of event %d: rows deleted, reordered or swapped", r.Seq-1)
		case hs.Sum(r) != r.Hash:
			return broken(r.Seq, "hash does not match the row's contents: row edited")
		}
		t, err := store.ParseTime(r.At)
		if err != nil {
			return broken(r.Seq, "unreadable time %q", r.At)
		}
		st.VerifiedSeq, st.VerifiedAt, st.HeadHash = r.Seq, t, r.Hash
		st.Count++
		wantSeq, wantPrev = r.Seq+1, r.Hash
		return nil
	})
	switch {
	case errors.Is(err, errBroken):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("audit: verify: %w", err)
	case !present:
		broken(st.VerifiedSeq+1, "the chain's head row (table audit_head) is missing")
		return st, nil
	case head.Seq > st.VerifiedSeq:
		broken(st.VerifiedSeq+1, "event %d is missing: the chain's head row records event %d, but the trail ends at event %d: events deleted from the end",
			st.VerifiedSeq+1, head.Seq, st.VerifiedSeq)
		return st, nil
	case head.Seq < st.VerifiedSeq:
		broken(head.Seq+1, "event %d is past the chain's head row (event %d): events added without the head, not by the application",
			head.Seq+1, head.Seq)
		return st, nil
	case head.Hash != wantPrev:
		broken(head.Seq, "hash of event %d differs from the chain's head row: the event or the head row was rewritten", head.Seq)
		return st, nil
	}
	st.OK = true
	return st, nil
}
