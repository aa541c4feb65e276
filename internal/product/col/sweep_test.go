package col

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// listing is a COL gateway that lists refunds through list (the other
// calls are not made by a sweep).
type listing struct {
	Gateway
	list func(q neox.COLListQuery) (neox.COLRefundPage, error)
}

func (l listing) ListRefunds(_ context.Context, lang string, q neox.COLListQuery) (neox.COLRefundPage, error) {
	if lang != sweepLang {
		return neox.COLRefundPage{}, errors.New("language " + lang)
	}
	return l.list(q)
}

// The sweep reads every page at NeoX's largest page size over the window
// asked for, hands on each refund with NeoX's words, and stops at a window
// too large to read, at NeoX's error and at the desk's.
func TestSweepPagesTheList(t *testing.T) {
	from, to := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	var asked []int
	p := New(listing{list: func(q neox.COLListQuery) (neox.COLRefundPage, error) {
		if q.PageSize != neox.MaxCOLPageSize || !q.From.Equal(from) || !q.To.Equal(to) {
			t.Errorf("query = %+v", q)
		}
		asked = append(asked, q.PageIndex)
		return neox.COLRefundPage{TotalPages: 2, Docs: []neox.COLRefund{{RequestID: "r" + string(rune('0'+q.PageIndex)),
			CollectionTransID: "CT1", RefundTransID: "RT", ApprovalStatus: "REJECTED", Status: "", Amount: 9, Note: "no",
			FailedReason: "fr", CreatedAt: from}}}, nil
	}})
	if !p.Sweeps() || New(nil).Sweeps() {
		t.Fatal("Sweeps: a listing client sweeps, no client does not")
	}
	var got []product.Swept
	pages, err := p.Sweep(context.Background(), from, to, func(x product.Swept) error { got = append(got, x); return nil })
	if err != nil || pages != 2 || len(asked) != 2 || len(got) != 2 {
		t.Fatalf("sweep = %d pages, %v; asked %v, found %d", pages, err, asked, len(got))
	}
	want := product.Swept{RequestID: "r1", TargetRef: "CT1", NeoXRefundID: "RT", ApprovalStatus: "REJECTED", Amount: 9,
		Note: "no", FailedReason: "fr", CreatedAt: from}
	if got[0] != want {
		t.Errorf("swept %+v, want %+v", got[0], want)
	}
	if s := p.SweptState("REJECTED", ""); s != product.Failed {
		t.Errorf("REJECTED maps to %q", s)
	}
	if s := p.SweptState("APPROVED", "SUCCESS"); s != product.Succeeded {
		t.Errorf("SUCCESS maps to %q", s)
	}

	endless := New(listing{list: func(q neox.COLListQuery) (neox.COLRefundPage, error) {
		return neox.COLRefundPage{TotalPages: 1000, Docs: []neox.COLRefund{{RequestID: "x"}}}, nil
	}})
	pages, err = endless.Sweep(context.Background(), from, to, func(product.Swept) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "COL_SWEEP_WINDOW") || pages != sweepMaxPages {
		t.Errorf("a window over %d pages: %d pages, %v", sweepMaxPages, pages, err)
	}
	stop := errors.New("desk down")
	if _, err := p.Sweep(context.Background(), from, to, func(product.Swept) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("the desk's error: %v", err)
	}
	failing := New(listing{list: func(neox.COLListQuery) (neox.COLRefundPage, error) { return neox.COLRefundPage{}, stop }})
	if pages, err := failing.Sweep(context.Background(), from, to, func(product.Swept) error { return nil }); !errors.Is(err, stop) ||
		pages != 0 || !strings.Contains(err.Error(), "page 1") {
		t.Errorf("NeoX's error: %d, %v", pages, err)
	}
}
