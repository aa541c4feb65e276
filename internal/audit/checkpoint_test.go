package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	cpKey    = []byte("an operator's checkpoint key, 32+ bytes long")
	otherKey = []byte("somebody else's key, also 32+ bytes long!!")
)

func recordN(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := range n {
		if err := l.RecordNow(context.Background(), Event{ActorName: "t", Action: ActionLogin, Outcome: OutcomeSuccess, Details: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
}

// takeCheckpoint writes a checkpoint into a buffer and returns it parsed back.
func takeCheckpoint(t *testing.T, l *Log) (Checkpoint, []byte) {
	t.Helper()
	var buf bytes.Buffer
	cp, err := l.WriteCheckpoint(context.Background(), cpKey, map[string]any{"via": "test"}, func(c Checkpoint) error {
		_, err := buf.Write(c.Marshal())
		return err
	})
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	return cp, buf.Bytes()
}

// verifyAgainst is what `audit verify -checkpoint` does: verify, then compare.
func verifyAgainst(t *testing.T, l *Log, seen Head) error {
	t.Helper()
	st, err := l.Verify(context.Background(), Anchor{})
	if err != nil {
		t.Fatal(err)
	}
	if !st.OK {
		t.Fatalf("chain broken: %s", st)
	}
	return l.CheckHead(context.Background(), st, seen)
}

// A checkpoint covers the whole trail up to and including its own event,
// reads back under the key, and still matches after more events.
func TestCheckpointSignsTheHead(t *testing.T) {
	db := openDB(t)
	l := New(db, stepClock(t0, time.Second))
	recordN(t, l, 10)
	cp, file := takeCheckpoint(t, l)
	head, err := l.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != 11 || cp.Hash != head.Hash || cp.EventAt != head.At || head.Seq != 11 {
		t.Fatalf("checkpoint %+v, head %+v: want the checkpoint's own event (11) as head", cp, head)
	}
	e, err := l.Get(context.Background(), 11)
	if err != nil || e.Action != ActionAuditCheckpoint || !strings.Contains(e.DetailsJSON, `"signed_by":"`+CheckpointKeyID(cpKey)+`"`) {
		t.Fatalf("checkpoint event = %+v, %v", e, err)
	}
	if bytes.Contains(file, cpKey) || strings.Contains(e.DetailsJSON, string(cpKey)) {
		t.Fatal("the key is in the checkpoint file or the audit trail")
	}
	got, err := ParseCheckpoint(bytes.NewReader(file), cpKey)
	if err != nil || got != cp {
		t.Fatalf("parse = %+v, %v; want %+v", got, err, cp)
	}
	if err := verifyAgainst(t, l, got.Head()); err != nil {
		t.Fatalf("fresh checkpoint: %v", err)
	}
	recordN(t, l, 5)
	if err := verifyAgainst(t, l, got.Head()); err != nil {
		t.Fatalf("after more events: %v", err)
	}
}

// The last events deleted with the triggers dropped leave a chain that
// verifies on its own; the checkpoint notices. So does a trail cut and
// then continued past the checkpoint's seq.
func TestCheckpointDetectsTruncation(t *testing.T) {
	db, l := tamperable(t, 10)
	exec(t, db, `CREATE TRIGGER audit_events_append_only BEFORE INSERT ON audit_events
		WHEN NEW.seq <= (SELECT coalesce(max(seq), 0) FROM audit_events) BEGIN SELECT RAISE(ABORT, 'append-only'); END`)
	cp, _ := takeCheckpoint(t, l) // seq 11
	recordN(t, l, 4)              // up to 15

	// The attacker also trims the search index, or new events could not
	// reuse the seqs, and rewinds the chain's head row, or Verify would see
	// the cut end.
	exec(t, db, `DELETE FROM audit_events WHERE seq > 8`, `DELETE FROM audit_target_search WHERE rowid > 8`, rewindHeadSQL)
	st, err := l.Verify(context.Background(), Anchor{})
	if err != nil || !st.OK || st.VerifiedSeq != 8 {
		t.Fatalf("the cut chain should verify on its own (that is the gap): %s, %v", st, err)
	}
	err = l.CheckHead(context.Background(), st, cp.Head())
	var m *HeadMismatch
	if !errors.Is(err, ErrTruncated) || !errors.As(err, &m) || m.TrailSeq != 8 || m.Seen.Seq != 11 {
		t.Fatalf("truncation: %v", err)
	}
	if want := "ends at seq 8 but a head seen earlier is at seq 11: events were deleted"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q, want %q", err, want)
	}

	// Continue the cut trail past seq 11: the event at 11 is not the one signed.
	recordN(t, l, 6)
	err = verifyAgainst(t, l, cp.Head())
	if !errors.Is(err, ErrRewritten) || !strings.Contains(err.Error(), "event 11") {
		t.Fatalf("cut and continued: %v", err)
	}
}

// A checkpoint file that was edited, forged, signed with another key or is
// not a checkpoint at all is refused, saying which.
func TestCheckpointTamperedOrForged(t *testing.T) {
	l := New(openDB(t), stepClock(t0, time.Second))
	recordN(t, l, 3)
	cp, file := takeCheckpoint(t, l)
	edit := func(f func(c *Checkpoint)) []byte {
		c := cp
		f(&c)
		return c.Marshal()
	}
	resign := func(key []byte, f func(c *Checkpoint)) []byte {
		c := cp
		f(&c)
		c.KeyID = CheckpointKeyID(key)
		c.Sig = c.signature(key)
		return c.Marshal()
	}
	var raw map[string]any
	_ = json.Unmarshal(file, &raw)
	raw["note"] = "x"
	extra, _ := json.Marshal(raw)
	tests := []struct {
		name string
		data []byte
		key  []byte
		want error
		msg  string
	}{
		{"seq moved back", edit(func(c *Checkpoint) { c.Seq = 2 }), cpKey, ErrCheckpointSignature, "altered or forged"},
		{"hash replaced", edit(func(c *Checkpoint) { c.Hash = strings.Repeat("a", 64) }), cpKey, ErrCheckpointSignature, "altered or forged"},
		{"time edited", edit(func(c *Checkpoint) { c.At = "2020-01-01T00:00:00.000000Z" }), cpKey, ErrCheckpointSignature, "altered or forged"},
		{"signature flipped", edit(func(c *Checkpoint) { c.Sig = strings.Repeat("0", 64) }), cpKey, ErrCheckpointSignature, "altered or forged"},
		{"forged with another key, claiming ours", edit(func(c *Checkpoint) {
			c.Seq = 1
			c.Sig = c.signature(otherKey)
		}), cpKey, ErrCheckpointSignature, "altered or forged"},
		{"signed with another key", resign(otherKey, func(*Checkpoint) {}), cpKey, ErrCheckpointSignature, "signed with key"},
		{"checked with another key", file, otherKey, ErrCheckpointSignature, "signed with key"},
		{"short key", file, []byte("short"), ErrCheckpointKey, "at least 32 bytes"},
		{"not JSON", []byte("seq,hash\n1,abc\n"), cpKey, ErrBadCheckpoint, "not a valid checkpoint"},
		{"unknown field", extra, cpKey, ErrBadCheckpoint, "unknown field"},
		{"wrong version", resign(cpKey, func(c *Checkpoint) { c.Version = "v0" }), cpKey, ErrBadCheckpoint, "version"},
		{"seq 0", resign(cpKey, func(c *Checkpoint) { c.Seq = 0 }), cpKey, ErrBadCheckpoint, "seq must be"},
		{"too large", append(bytes.Repeat([]byte(" "), 5000), file...), cpKey, ErrBadCheckpoint, "larger than"},
		{"two values", append(append([]byte{}, file...), file...), cpKey, ErrBadCheckpoint, "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCheckpoint(bytes.NewReader(tt.data), tt.key)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.msg)
			}
		})
	}
	// The genuine file still reads.
	if _, err := ParseCheckpoint(bytes.NewReader(file), cpKey); err != nil {
		t.Fatal(err)
	}
}

// No checkpoint vouches for a broken chain, and a failed write records
// nothing: no event claims a checkpoint that does not exist.
func TestCheckpointRefusals(t *testing.T) {
	db, l := tamperable(t, 5)
	ctx := context.Background()
	write := func(Checkpoint) error { return errors.New("disk full") }
	if _, err := l.WriteCheckpoint(ctx, cpKey, nil, write); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failed write: %v", err)
	}
	if _, err := l.WriteCheckpoint(ctx, []byte("short"), nil, func(Checkpoint) error { return nil }); !errors.Is(err, ErrCheckpointKey) {
		t.Fatalf("short key: %v", err)
	}
	if n := countEvents(t, db); n != 5 {
		t.Fatalf("%d events after refused checkpoints, want 5", n)
	}
	exec(t, db, `UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 3`)
	_, err := l.WriteCheckpoint(ctx, cpKey, nil, func(Checkpoint) error { t.Error("wrote a checkpoint of a broken chain"); return nil })
	if !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), "event 3") {
		t.Fatalf("broken chain: %v", err)
	}
	if n := countEvents(t, db); n != 5 {
		t.Fatalf("%d events after refused checkpoints, want 5", n)
	}
}

// An export ends with the chain head it was read from, which reads back
// as a Head and is checked like a checkpoint's.
func TestExportTrailerCarriesTheHead(t *testing.T) {
	db, l := tamperable(t, 12)
	var buf bytes.Buffer
	if n, err := l.ExportCSV(context.Background(), &buf, Filter{Actor: "alice"}); err != nil || n != 2 {
		t.Fatalf("export = %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want, _ := l.Head(context.Background())
	if last := lines[len(lines)-1]; last != fmt.Sprintf("# chain head,seq=12,hash=%s,at=%s,rows=2,,,,,,,,,,", want.Hash, want.At) {
		t.Fatalf("trailer %q", last)
	}
	head, err := ReadExportHead(bytes.NewReader(buf.Bytes()))
	if err != nil || head != want {
		t.Fatalf("ReadExportHead = %+v, %v; want %+v", head, err, want)
	}
	// A file cut anywhere before its trailer is not a complete export.
	for _, cut := range []int{0, 10, len(buf.Bytes()) / 2, len(buf.Bytes()) - len(lines[len(lines)-1]) - 1} {
		if _, err := ReadExportHead(bytes.NewReader(buf.Bytes()[:cut])); !errors.Is(err, ErrNotExport) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	exec(t, db, `DELETE FROM audit_events WHERE seq > 9`, rewindHeadSQL)
	if err := verifyAgainst(t, l, head); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncation against the export's head: %v", err)
	}
}

// An export of an empty trail carries seq 0, which any trail reaches.
func TestExportOfAnEmptyTrail(t *testing.T) {
	l := New(openDB(t), stepClock(t0, time.Second))
	var buf bytes.Buffer
	if _, err := l.ExportCSV(context.Background(), &buf, Filter{}); err != nil {
		t.Fatal(err)
	}
	head, err := ReadExportHead(bytes.NewReader(buf.Bytes()))
	if err != nil || head != (Head{}) {
		t.Fatalf("head %+v, %v", head, err)
	}
	if err := verifyAgainst(t, l, head); err != nil {
		t.Fatalf("empty trail against its own export: %v", err)
	}
	recordN(t, l, 2)
	if err := verifyAgainst(t, l, head); err != nil {
		t.Fatalf("grown trail against the empty export: %v", err)
	}
}

// A database error while rows stream ends the file with the error record,
// not the chain head, and ExportCSV says the export is incomplete. The
// error is injected deterministically: a row whose actor_id is not a
// number cannot be read back, as a corrupt page could not be.
func TestExportCutShortByDatabaseError(t *testing.T) {
	db, l := tamperable(t, 0)
	if db.Postgres() {
		t.Skip("PostgreSQL's column types refuse the unreadable row this test plants; the export's error path is the same code on both")
	}
	bulkInsert(t, db, 0, 300, 600, GenesisHash)
	exec(t, db, `INSERT INTO audit_events (seq, at, actor_id, action, outcome, prev_hash, hash)
		VALUES (301, '2030-01-01T00:00:00.000000Z', 'not a number', 'x', 'y', '`+strings.Repeat("0", 64)+`', '`+strings.Repeat("1", 64)+`')`)
	var buf bytes.Buffer
	n, err := l.ExportCSV(context.Background(), &buf, Filter{})
	if !errors.Is(err, ErrExportIncomplete) || n != 300 {
		t.Fatalf("export = %d, %v; want 300 rows and ErrExportIncomplete", n, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, TrailerError+",") || !strings.Contains(last, "the database failed after 300 events") || strings.Count(last, ",") < len(CSVHeader)-1 {
		t.Fatalf("last line %q", last)
	}
	if strings.Contains(buf.String(), TrailerHead) {
		t.Fatal("an incomplete export carries the chain head")
	}
	if _, err := ReadExportHead(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrExportIncomplete) {
		t.Fatalf("ReadExportHead = %v", err)
	}
}
