package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// A Checkpoint is the chain head written down outside the database and
// signed, so that events cut off the end of the trail (which leaves a
// shorter chain that still verifies) are noticed: the trail must still
// reach Seq, with Hash there. It is signed with HMAC-SHA-256 under a key
// the operator keeps away from the database and its backups: whoever can
// rewrite the database can then neither forge a checkpoint for the
// shortened trail nor alter an existing one.
//
// The file is JSON:
//
//	{"version":"refunddesk.audit.checkpoint.v1","seq":125,"hash":"…",
//	 "event_at":"…","at":"…","key_id":"…","sig":"…"}
//
// sig is lowercase hex HMAC-SHA-256(key, F(version) ‖ F(seq) ‖ F(hash) ‖
// F(event_at) ‖ F(at) ‖ F(key_id)) with F as in the chain's canonical
// encoding (4-byte big-endian length, then the bytes; seq in base 10).
// key_id names the key (the first 16 hex digits of HMAC-SHA-256(key,
// "refunddesk.audit.checkpoint.key-id")), so a file signed under another
// key is reported as such rather than as a forgery.
type Checkpoint struct {
	Version string `json:"version"`
	Seq     int64  `json:"seq"`      // the newest event when the checkpoint was taken
	Hash    string `json:"hash"`     // its hash
	EventAt string `json:"event_at"` // its time, as stored (store.TimeFormat)
	At      string `json:"at"`       // when the checkpoint was taken
	KeyID   string `json:"key_id"`
	Sig     string `json:"sig"`
}

// CheckpointVersion is the version of the file format and signed encoding.
const CheckpointVersion = "refunddesk.audit.checkpoint.v1"

// MinCheckpointKeyLen is the shortest accepted key, in bytes.
const MinCheckpointKeyLen = 32

// maxCheckpointSize bounds what ParseCheckpoint reads; a real one is ~400 bytes.
const maxCheckpointSize = 4096

var (
	// ErrCheckpointKey is returned for a key shorter than MinCheckpointKeyLen.
	ErrCheckpointKey = fmt.Errorf("audit: the checkpoint key must be at least %d bytes", MinCheckpointKeyLen)
	// ErrBadCheckpoint is returned (wrapped, saying what) for a file that is
	// not a well-formed checkpoint.
	ErrBadCheckpoint = errors.New("audit: not a valid checkpoint file")
	// ErrCheckpointSignature is returned (wrapped) when the signature does
	// not match: the file was altered or forged, or signed with another key.
	ErrCheckpointSignature = errors.New("audit: checkpoint signature does not verify")
	// ErrChainBroken is returned (wrapped, with the status) by
	// WriteCheckpoint when the chain does not verify: a checkpoint would
	// vouch for a tampered trail.
	ErrChainBroken = errors.New("audit: the chain does not verify")
)

// Head returns the chain head the checkpoint saw.
func (c Checkpoint) Head() Head { return Head{Seq: c.Seq, Hash: c.Hash, At: c.EventAt} }

// CheckpointKeyID names key without revealing it.
func CheckpointKeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("refunddesk.audit.checkpoint.key-id"))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

func (c Checkpoint) signature(key []byte) string {
	var buf []byte
	for _, s := range []string{c.Version, fmt.Sprint(c.Seq), c.Hash, c.EventAt, c.At, c.KeyID} {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(s)))
		buf = append(buf, s...)
	}
	m := hmac.New(sha256.New, key)
	m.Write(buf)
	return hex.EncodeToString(m.Sum(nil))
}

// Marshal returns the checkpoint file's content (indented JSON and a newline).
func (c Checkpoint) Marshal() []byte {
	b, _ := json.MarshalIndent(c, "", "  ") // plain strings and an int: cannot fail
	return append(b, '\n')
}

// ParseCheckpoint reads a checkpoint file and checks its signature under
// key. It returns ErrCheckpointKey for a short key, ErrBadCheckpoint
// (wrapped) for anything that is not a well-formed checkpoint (unknown
// fields included), and ErrCheckpointSignature (wrapped) when the signature
// does not match.
func ParseCheckpoint(r io.Reader, key []byte) (Checkpoint, error) {
	if len(key) < MinCheckpointKeyLen {
		return Checkpoint{}, ErrCheckpointKey
	}
	data, err := io.ReadAll(io.LimitReader(r, maxCheckpointSize+1))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if len(data) > maxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("%w: larger than %d bytes", ErrBadCheckpoint, maxCheckpointSize)
	}
	var c Checkpoint
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	if dec.More() {
		return Checkpoint{}, fmt.Errorf("%w: more than one JSON value", ErrBadCheckpoint)
	}
	_, errEvent := store.ParseTime(c.EventAt)
	_, errAt := store.ParseTime(c.At)
	switch {
	case c.Version != CheckpointVersion:
		return Checkpoint{}, fmt.Errorf("%w: version %q, want %q", ErrBadCheckpoint, c.Version, CheckpointVersion)
	case c.Seq < 1 || !isHash(c.Hash):
		return Checkpoint{}, fmt.Errorf("%w: seq must be ≥ 1 and hash 64 lowercase hex digits", ErrBadCheckpoint)
	case errEvent != nil || errAt != nil:
		return Checkpoint{}, fmt.Errorf("%w: unreadable event_at or at", ErrBadCheckpoint)
	case c.KeyID != CheckpointKeyID(key):
		return Checkpoint{}, fmt.Errorf("%w: it was signed with key %q, the key given is %q", ErrCheckpointSignature, c.KeyID, CheckpointKeyID(key))
	case !hmac.Equal([]byte(c.Sig), []byte(c.signature(key))):
		return Checkpoint{}, fmt.Errorf("%w: the file was altered or forged", ErrCheckpointSignature)
	}
	return c, nil
}

// WriteCheckpoint takes a signed checkpoint of the whole trail. It verifies
// the chain from genesis (refusing with ErrChainBroken if it is broken),
// then, in one write transaction, records an audit.checkpoint event (with
// details, plus the key id), checks the events appended since the
// verification, signs the new head (that very event, so a later truncation
// that removes it is noticed too) and calls write with the checkpoint. If
// write fails, nothing is recorded. write runs while the transaction holds
// the chain's head (and, on SQLite, the database's write lock): it should
// only put the bytes somewhere (a
// temporary file the caller renames once WriteCheckpoint returns).
func (l *Log) WriteCheckpoint(ctx context.Context, key []byte, details map[string]any, write func(Checkpoint) error) (Checkpoint, error) {
	if len(key) < MinCheckpointKeyLen {
		return Checkpoint{}, ErrCheckpointKey
	}
	st, err := l.Verify(ctx, Anchor{})
	if err != nil {
		return Checkpoint{}, err
	}
	if !st.OK {
		return Checkpoint{}, fmt.Errorf("%w: %s", ErrChainBroken, st)
	}
	keyID := CheckpointKeyID(key)
	d := maps.Clone(details)
	if d == nil {
		d = map[string]any{}
	}
	d["signed_by"] = keyID // "key…" would be redacted; the id is not secret
	var cp Checkpoint
	err = l.db.Tx(ctx, func(tx *store.Tx) error {
		if err := l.Record(ctx, tx, Event{Action: ActionAuditCheckpoint, Outcome: OutcomeSuccess, TargetType: "audit", Details: d}); err != nil {
			return err
		}
		// Events appended between the full pass and this transaction.
		more, err := verifyChain(Anchor{Seq: st.VerifiedSeq + 1, PrevHash: st.HeadHash},
			func(start int64, each func(*row) error) (store.AuditHead, bool, error) {
				return tx.AuditChain(ctx, start, each)
			})
		if err != nil {
			return err
		}
		if !more.OK {
			return fmt.Errorf("%w: %s", ErrChainBroken, more)
		}
		head, err := tx.AuditNewest(ctx)
		if err != nil {
			return fmt.Errorf("audit: read chain head: %w", err)
		}
		cp = Checkpoint{Version: CheckpointVersion, Seq: head.Seq, Hash: head.Hash, EventAt: head.At,
			At: store.FormatTime(l.now()), KeyID: keyID}
		cp.Sig = cp.signature(key)
		return write(cp)
	})
	if err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}
