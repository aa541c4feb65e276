package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

func TestExportCSVQuotingAndFormulaNeutralisation(t *testing.T) {
	db := openDB(t)
	l := New(db, stepClock(t0, time.Second))
	ctx := context.Background()
	targets := []struct{ in, want string }{
		{`plain`, `plain`},
		{`a,b`, `a,b`},
		{`say "hi"`, `say "hi"`},
		{"two\nlines\r\nhere", "two\nlines\nhere"}, // encoding/csv reads CRLF inside quotes as LF
		{`Nguyễn Văn Á ₫ 日本`, `Nguyễn Văn Á ₫ 日本`},
		{`=HYPERLINK("http://evil","x")`, `'=HYPERLINK("http://evil","x")`},
		{`+1+1`, `'+1+1`},
		{`-2+3`, `'-2+3`},
		{`@SUM(A1:A2)`, `'@SUM(A1:A2)`},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{`a=1`, `a=1`},
	}
	for _, tg := range targets {
		e := Event{ActorName: "=cmd|' /C calc'!A0", Action: ActionRefundRequested, Outcome: OutcomeSuccess,
			TargetType: "refund", TargetID: tg.in, UserAgent: "-ua, \"quoted\"", Details: map[string]any{"note": "=1+2", "k,\"": "x\ny"}}
		if err := l.RecordNow(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	n, err := l.ExportCSV(ctx, &buf, Filter{})
	if err != nil || n != int64(len(targets)) {
		t.Fatalf("export = %d, %v", n, err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("exported CSV does not parse: %v", err)
	}
	if len(recs) != len(targets)+2 || len(recs[0]) != len(CSVHeader) || recs[0][0] != "seq" {
		t.Fatalf("got %d records, header %v", len(recs), recs[0])
	}
	for i, tg := range targets {
		r := recs[i+1]
		e, _ := l.Get(ctx, int64(i+1))
		if r[0] != strconv.Itoa(i+1) || r[8] != tg.want || r[3] != "'=cmd|' /C calc'!A0" || r[10] != `'-ua, "quoted"` || r[14] != e.Hash || r[13] != e.PrevHash {
			t.Errorf("row %d = %q", i+1, r)
		}
		if r[1] != store.FormatTime(t0.Add(time.Duration(i+1)*time.Second)) {
			t.Errorf("row %d time = %q", i+1, r[1])
		}
		var d map[string]string
		if err := json.Unmarshal([]byte(r[12]), &d); err != nil || d["note"] != "=1+2" || d["k,\""] != "x\ny" {
			t.Errorf("row %d details = %q (%v)", i+1, r[12], err)
		}
	}

	// The export follows the filter.
	buf.Reset()
	if n, err := l.ExportCSV(ctx, &buf, Filter{Text: "lines"}); err != nil || n != 1 {
		t.Errorf("filtered export = %d, %v", n, err)
	}
}

// heapWatcher counts bytes and samples the heap while the export writes
// into it: HeapInuse as it is (what the process holds, garbage included),
// and every 64th sample the live heap after a forced GC, which does not
// depend on GC pacing and so catches buffering even in a small export.
type heapWatcher struct {
	n, writes    int64
	peakInuse    uint64
	peakLive     uint64
	samples, gcs int
}

func (w *heapWatcher) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.writes++; w.writes%16 == 0 {
		if w.samples++; w.samples%16 == 0 {
			runtime.GC()
			w.gcs++
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.peakInuse = max(w.peakInuse, ms.HeapInuse)
		if w.samples%16 == 0 {
			w.peakLive = max(w.peakLive, ms.HeapAlloc)
		}
	}
	return len(p), nil
}

func TestExportCSVStreamsInConstantMemory(t *testing.T) {
	n := int64(100_000)
	if testing.Short() || raceEnabled {
		n = 10_000 // the race detector makes modernc's SQLite ~10x slower
	}
	db := openDB(t)
	start := time.Now()
	bulkInsert(t, db, 0, n, n, GenesisHash)
	t.Logf("fixture of %d events in %v", n, time.Since(start))
	l := New(db, nil)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	w := &heapWatcher{}
	start = time.Now()
	got, err := l.ExportCSV(context.Background(), w, Filter{})
	if err != nil || got != n {
		t.Fatalf("export = %d, %v", got, err)
	}
	growth := int64(w.peakInuse) - int64(before.HeapInuse)
	live := int64(w.peakLive) - int64(before.HeapAlloc)
	t.Logf("exported in %v: %d rows, %.1f MiB of CSV; heap in use %.1f MiB before, peak growth %.1f MiB; live heap growth %.2f MiB (%d GC samples)",
		time.Since(start), got, float64(w.n)/(1<<20), float64(before.HeapInuse)/(1<<20), float64(growth)/(1<<20), float64(live)/(1<<20), w.gcs)
	if w.n < n*500 || w.gcs < 4 {
		t.Fatalf("only %d bytes written, %d GC samples", w.n, w.gcs)
	}
	// Holding the export in memory would keep at least its size live
	// (62 MiB for 100k rows); streaming keeps a few buffers.
	if growth > 20<<20 {
		t.Errorf("heap in use grew %.1f MiB while exporting", float64(growth)/(1<<20))
	}
	if live > min(4<<20, w.n/8) {
		t.Errorf("live heap grew %d bytes while exporting %d bytes: not streaming", live, w.n)
	}
}

var _ io.Writer = (*heapWatcher)(nil)
