package audit

import "github.com/neox-refund-desk/refunddesk/internal/store"

// GenesisHash is the prev_hash of the first event of the chain.
const GenesisHash = store.AuditGenesisHash

// row is an audit_events row exactly as stored: every field is the text
// the database holds, so hashing needs no re-encoding of times or JSON.
type row = store.AuditRecord

// The hash itself (doc.go, "Canonical encoding") is the store's: it links
// appended events, in Go or inside PostgreSQL. Verify recomputes it here.

// rowHash is the hash of r with a fresh hasher.
func rowHash(r *row) string { return store.NewAuditHasher().Sum(r) }
