package audit

import (
	"context"
	"errors"
	"fmt"
)

// Head is one point of the chain, usually its newest event: the seq, the
// hash and the stored time text (store.TimeFormat) of that event. A Head
// kept outside the database (a signed Checkpoint, the trailer of an export)
// is what reveals events cut off the end of the trail: the chain left
// behind still verifies on its own.
type Head struct {
	Seq  int64
	Hash string
	At   string
}

// Head returns the newest event, or the zero Head when the trail is empty.
func (l *Log) Head(ctx context.Context) (Head, error) {
	h, err := l.db.AuditNewest(ctx)
	if err != nil {
		return Head{}, fmt.Errorf("audit: read chain head: %w", err)
	}
	return Head(h), nil
}

// ErrTruncated and ErrRewritten are what CheckHead finds (wrapped in a
// *HeadMismatch): the trail ends before a head seen earlier, or the event
// at that seq no longer has the hash seen then.
var (
	ErrTruncated = errors.New("audit: events were deleted from the end of the trail")
	ErrRewritten = errors.New("audit: the trail was rewritten")
)

// HeadMismatch is CheckHead's finding. TrailSeq is where the trail now
// ends (the last verified event); Seen is the head kept elsewhere; Stored is
// the hash the trail now has at Seen.Seq (empty when truncated).
type HeadMismatch struct {
	Err      error // ErrTruncated or ErrRewritten
	TrailSeq int64
	Seen     Head
	Stored   string
}

func (m *HeadMismatch) Error() string {
	if m.Err == ErrTruncated {
		return fmt.Sprintf("the audit trail ends at seq %d but a head seen earlier is at seq %d: events were deleted", m.TrailSeq, m.Seen.Seq)
	}
	return fmt.Sprintf("event %d has hash %s but a head seen earlier recorded %s: the trail was rewritten at or before event %d",
		m.Seen.Seq, m.Stored, m.Seen.Hash, m.Seen.Seq)
}

func (m *HeadMismatch) Unwrap() error { return m.Err }

// CheckHead compares seen, a head kept outside the database, with the trail
// that st (a successful Verify from genesis) describes: the trail must reach
// at least seen.Seq, and the event there must carry seen.Hash. Since each
// hash covers every event before it, a match proves nothing up to seen.Seq
// was removed or rewritten. It returns a *HeadMismatch (matching
// ErrTruncated or ErrRewritten) when not, and database errors as they come.
// Call it only with st.OK: a broken chain is reported by st itself.
func (l *Log) CheckHead(ctx context.Context, st ChainStatus, seen Head) error {
	if !st.OK {
		return fmt.Errorf("audit: CheckHead needs a verified chain: %s", st)
	}
	if seen.Seq <= 0 {
		return nil // seen on an empty trail (an export of it): anything reaches it
	}
	if st.VerifiedSeq < seen.Seq {
		return &HeadMismatch{Err: ErrTruncated, TrailSeq: st.VerifiedSeq, Seen: seen}
	}
	e, err := l.Get(ctx, seen.Seq)
	if errors.Is(err, ErrNotFound) {
		// Verify saw it a moment ago and rows cannot be deleted through the
		// triggers: someone is deleting right now.
		return &HeadMismatch{Err: ErrTruncated, TrailSeq: seen.Seq - 1, Seen: seen}
	}
	if err != nil {
		return err
	}
	if e.Hash != seen.Hash {
		return &HeadMismatch{Err: ErrRewritten, TrailSeq: st.VerifiedSeq, Seen: seen, Stored: e.Hash}
	}
	return nil
}
