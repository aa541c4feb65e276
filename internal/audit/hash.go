package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// GenesisHash is the prev_hash of the first event of the chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// hashVersion is the first field of the canonical encoding; a change to the
// encoding gets a new version so old rows stay verifiable.
const hashVersion = "refunddesk.audit.v1"

// row is an audit_events row exactly as stored: every field is the text
// that SQLite holds, so hashing needs no re-encoding of times or JSON.
type row = store.AuditRecord

// hasher computes row hashes, reusing its buffers between rows.
type hasher struct {
	h   hash.Hash
	buf []byte
}

func newHasher() *hasher { return &hasher{h: sha256.New(), buf: make([]byte, 0, 512)} }

// field appends one length-prefixed field: 4-byte big-endian byte length,
// then the bytes.
func (hs *hasher) field(s string) {
	hs.buf = binary.BigEndian.AppendUint32(hs.buf, uint32(len(s)))
	hs.buf = append(hs.buf, s...)
}

// sum returns the lowercase hex SHA-256 of the canonical encoding of r
// chained to r.PrevHash (see doc.go, "Canonical encoding").
func (hs *hasher) sum(r *row) string {
	hs.buf = hs.buf[:0]
	hs.field(r.PrevHash)
	hs.field(hashVersion)
	hs.field(strconv.FormatInt(r.Seq, 10))
	hs.field(r.At)
	hs.field(strconv.FormatInt(r.ActorID, 10))
	hs.field(r.ActorName)
	hs.field(r.ActorRole)
	hs.field(r.Action)
	hs.field(r.Outcome)
	hs.field(r.TargetType)
	hs.field(r.TargetID)
	hs.field(r.ClientIP)
	hs.field(r.UserAgent)
	hs.field(r.RequestID)
	hs.field(r.Details)
	hs.h.Reset()
	hs.h.Write(hs.buf)
	var out [sha256.Size]byte
	return hex.EncodeToString(hs.h.Sum(out[:0]))
}

// rowHash is sum with a fresh hasher.
func rowHash(r *row) string { return newHasher().sum(r) }
