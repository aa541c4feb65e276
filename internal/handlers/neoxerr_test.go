package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// TestApprovingWhileNeoXDoesNotAnswer: approval re-reads NeoX; when that
// call gets no answer (or a refusal) the manager stays on the refund and is
// told NeoX did not answer and nothing was approved, in their language,
// never "Something went wrong". Bulk approval reports it per refund.
func TestApprovingWhileNeoXDoesNotAnswer(t *testing.T) {
	e := newEnv(t)
	e.user("mgr", auth.RoleManager)
	req := refunds.NewRequest{API: refunds.APICOL, TransactionRef: "FT24326DNG003", Amount: 70_000}
	r := e.refundIn(req, "PENDING", "")
	r2 := e.refundIn(req, "PENDING", "")
	c := e.login("mgr")
	tests := []struct {
		name   string
		fault  sandbox.Fault
		lang   string
		status int
		want   []string
	}{
		{"no answer", sandbox.Fault5xx, "en", http.StatusServiceUnavailable,
			[]string{"NeoX did not answer", "Nothing was approved."}},
		{"connection cut", sandbox.FaultDropBeforeRecord, "vi", http.StatusServiceUnavailable,
			[]string{"NeoX không trả lời", "Chưa có yêu cầu nào được duyệt."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.post(c, "/account/lang", url.Values{"lang": {tt.lang}})
			// Enough faults for the HTTP client's own retry of a cut GET.
			e.sandbox.InjectFault(sandbox.OpCOLTransaction, tt.fault, 10)
			res := e.post(c, "/refunds/"+r.ID+"/approve", url.Values{})
			e.sandbox.InjectFault(sandbox.OpCOLTransaction, sandbox.FaultNone, 0)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d: %.400s", res.status, tt.status, res.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(res.body, "Something went wrong") || strings.Contains(res.body, "Đã xảy ra lỗi") ||
				!strings.Contains(res.body, `data-testid="decision-error"`) || !strings.Contains(res.body, `data-testid="approve"`) {
				t.Errorf("not the refund page with the decision error: %.600s", res.body)
			}
			if got, _ := e.refunds.Get(context.Background(), r.ID); got.Approval != refunds.ApprovalPending {
				t.Fatalf("approval = %s", got.Approval)
			}
		})
	}
	e.post(c, "/account/lang", url.Values{"lang": {"en"}})
	e.sandbox.InjectFault(sandbox.OpCOLTransaction, sandbox.Fault5xx, 2)
	if res := e.post(c, "/approvals/bulk", url.Values{"id": {r.ID, r2.ID}}); res.status != http.StatusSeeOther || res.header.Get("Location") != "/approvals" {
		t.Fatalf("bulk: %d to %q", res.status, res.header.Get("Location"))
	}
	res := e.get(c, "/approvals")
	if res.status != http.StatusOK || !strings.Contains(res.body, "0 refunds approved") ||
		strings.Count(res.body, "NeoX did not answer the check") != 2 {
		t.Fatalf("bulk: %d %.800s", res.status, res.body)
	}
	// Once NeoX answers, the same click approves.
	if res := e.post(c, "/refunds/"+r.ID+"/approve", url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("after recovery: %d", res.status)
	}
}
