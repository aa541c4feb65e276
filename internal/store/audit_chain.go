package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"
)

// The chain's encoding (documented in the audit package, "Canonical
// encoding") lives here because the store links appended events: in Go on
// SQLite, and on PostgreSQL inside the database, at the COMMIT
// (migrations/postgres/0048_audit_link.sql), which TestAuditLinkConformance
// holds to AuditHasher and auditLink.

// AuditGenesisHash is the prev_hash of the first event of the chain.
const AuditGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// auditHashVersion is the first field of the canonical encoding after
// prev_hash; a change to the encoding gets a new version so old rows stay
// verifiable.
const auditHashVersion = "refunddesk.audit.v1"

// AuditHasher computes row hashes, reusing its buffers between rows. It is
// not safe for concurrent use.
type AuditHasher struct {
	h   hash.Hash
	buf []byte
}

// NewAuditHasher returns a hasher.
func NewAuditHasher() *AuditHasher {
	return &AuditHasher{h: sha256.New(), buf: make([]byte, 0, 512)}
}

// field appends one length-prefixed field: 4-byte big-endian byte length,
// then the bytes.
func (hs *AuditHasher) field(s string) {
	hs.buf = binary.BigEndian.AppendUint32(hs.buf, uint32(len(s)))
	hs.buf = append(hs.buf, s...)
}

// Sum returns the lowercase hex SHA-256 of the canonical encoding of r
// chained to r.PrevHash.
func (hs *AuditHasher) Sum(r *AuditRecord) string {
	hs.buf = hs.buf[:0]
	hs.field(r.PrevHash)
	hs.field(auditHashVersion)
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

// auditLink places r after head: the next seq, head's hash as prev_hash
// (the genesis hash after the empty trail), a time no earlier than head's
// (a clock stepping back stamps the previous event's time, so a time range
// is a seq range, which the audit queries rely on; the fixed-width
// TimeFormat makes the string comparison a time comparison), and the hash.
// It returns the new head. audit_link does the same in PostgreSQL.
func auditLink(hs *AuditHasher, head AuditHead, r *AuditRecord) AuditHead {
	r.Seq, r.PrevHash = head.Seq+1, head.Hash
	if head.Seq == 0 {
		r.PrevHash = AuditGenesisHash
	}
	if r.At < head.At {
		r.At = head.At
	}
	r.Hash = hs.Sum(r)
	return AuditHead{Seq: r.Seq, Hash: r.Hash, At: r.At}
}
