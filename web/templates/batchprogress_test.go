package templates

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/bulk"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

func TestCount(t *testing.T) {
	en, vi := i18n.WithLang(context.Background(), i18n.EN), i18n.WithLang(context.Background(), i18n.VI)
	for _, tc := range []struct {
		ctx  context.Context
		n    int
		want string
	}{{en, 0, "0"}, {en, 999, "999"}, {en, 1234, "1,234"}, {en, 10000, "10,000"}, {vi, 1234, "1.234"}, {vi, 10000, "10.000"}} {
		if got := Count(tc.ctx, tc.n); got != tc.want {
			t.Errorf("Count(%s, %d) = %q, want %q", i18n.From(tc.ctx), tc.n, got, tc.want)
		}
	}
}

// TestBatchProgressFragment: while checking, the figure in the reader's
// language, a labelled progress bar and a poll; once checked, no poll.
func TestBatchProgressFragment(t *testing.T) {
	render := func(lang i18n.Lang, state string) string {
		var buf bytes.Buffer
		b := bulk.Batch{BatchRecord: store.BatchRecord{ID: "5b7c6c1e-0000-4000-8000-000000000001", State: state}}
		err := BatchProgress(b, store.BatchProgress{Rows: 10000, Pending: 8766}).Render(i18n.WithLang(context.Background(), lang), &buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	html := render(i18n.EN, bulk.StateChecking)
	for _, want := range []string{"Checked 1,234 of 10,000 rows", `<label for="batch-progress-bar"`, `value="1234"`, `max="10000"`,
		`hx-trigger="every 1s"`, `hx-get="/batches/5b7c6c1e-0000-4000-8000-000000000001/progress"`, `data-testid="batch-cancel"`} {
		if !strings.Contains(html, want) {
			t.Errorf("checking fragment lacks %s:\n%s", want, html)
		}
	}
	if vi := render(i18n.VI, bulk.StateChecking); !strings.Contains(vi, "Đã kiểm tra 1.234 trên 10.000 dòng") {
		t.Errorf("Vietnamese fragment: %s", vi)
	}
	if done := render(i18n.EN, bulk.StatePreview); strings.Contains(done, "hx-trigger") || strings.Contains(done, "batch-cancel") {
		t.Errorf("a checked batch still polls or offers to stop: %s", done)
	}
}
