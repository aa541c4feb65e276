package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// knownActions are the actions the filter offers; anything else is refused.
var knownActions = []string{
	audit.ActionRefundsExport,
	notify.ActionEndpointAdded, notify.ActionEndpointRemoved, notify.ActionPrefsChanged,
	audit.ActionLogin, audit.ActionLoginFailed, audit.ActionLoginThrottled, audit.ActionLogout,
	audit.ActionSessionRevoked, audit.ActionPasswordChange,
	audit.ActionUserCreated, audit.ActionUserDisabled, audit.ActionUserEnabled, audit.ActionUserPasswordReset, audit.ActionUserRoleChanged,
	audit.ActionRefundRequested, audit.ActionRefundApproved, audit.ActionRefundRejected, audit.ActionRefundCancelled, audit.ActionRefundState,
	audit.ActionRefundNeedsAttention, audit.ActionRefundResolved, audit.ActionCOLSweep,
	audit.ActionRefundApprovalGiven, audit.ActionApprovalPolicyChanged,
	audit.ActionBatchUploaded, audit.ActionBatchSubmitted, audit.ActionBatchChecked, audit.ActionBatchCancelled,
	audit.ActionNeoXCall, audit.ActionWebhookReceived, audit.ActionConfigStartup, audit.ActionAuditExport, audit.ActionAuditCheckpoint,
	audit.ActionAccessDenied,
	audit.ActionMFAVerified, audit.ActionMFAFailed, audit.ActionMFAEnrolled, audit.ActionMFADisabled, audit.ActionMFAReset,
	audit.ActionMFARecoveryUsed, audit.ActionMFAStepUp, audit.ActionMFAEnrolLink, audit.ActionMFAEnrolLinkUsed, audit.ActionMFAPolicy,
	audit.ActionMFAKeyAdded, audit.ActionMFAKeyRemoved, audit.ActionMFAKeyUsed,
}

var knownOutcomes = []string{audit.OutcomeSuccess, audit.OutcomeFailure, audit.OutcomeDenied, audit.OutcomeUnknown}

// parseAuditFilter reads the filter from the query string; field errors
// come back with the form as typed.
func parseAuditFilter(q url.Values, now time.Time, zone *time.Location) (audit.Filter, templates.AuditFilterForm) {
	form := templates.AuditFilterForm{
		Range: q.Get("range"), From: q.Get("from"), To: q.Get("to"), Actor: q.Get("actor"),
		Action: q.Get("action"), Outcome: q.Get("outcome"), Target: strings.TrimSpace(q.Get("target")),
		Text: strings.TrimSpace(q.Get("q")), Errors: templates.FieldErrors{},
	}
	var f audit.Filter
	today := time.Date(now.In(zone).Year(), now.In(zone).Month(), now.In(zone).Day(), 0, 0, 0, 0, zone)
	if form.Range != "" && form.Range != "custom" && (form.From != "" || form.To != "") {
		// A preset and dates disagree; guessing which was meant would show
		// a period nobody asked for.
		form.Errors["from"] = "err.preset_and_dates"
	}
	switch form.Range {
	case "today":
		f.From = today
	case "7d":
		f.From = today.AddDate(0, 0, -6)
	case "month":
		f.From = time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, zone)
	case "", "custom":
		f.From, f.To = parseDayRange(form.From, form.To, zone, form.Errors)
	default:
		form.Errors["from"] = "err.unknown_period"
	}
	if form.Action != "" && !slices.Contains(knownActions, form.Action) {
		form.Errors["action"] = "err.unknown_action"
		form.Action = ""
	}
	if form.Outcome != "" && !slices.Contains(knownOutcomes, form.Outcome) {
		form.Errors["outcome"] = "err.unknown_outcome"
		form.Outcome = ""
	}
	if len(form.Actor) > 64 || len(form.Target) > 200 || len(form.Text) > 200 {
		form.Errors["q"] = "err.search_too_long"
	}
	f.Actor, f.Action, f.Outcome, f.TargetID, f.Text = form.Actor, form.Action, form.Outcome, form.Target, form.Text
	return f, form
}

// filterQuery renders the form back into a query string (for pager links
// and the export form's hidden fields).
func filterQuery(form templates.AuditFilterForm) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"range": form.Range, "from": form.From, "to": form.To, "actor": form.Actor,
		"action": form.Action, "outcome": form.Outcome, "target": form.Target, "q": form.Text} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

func withCursor(v url.Values, c audit.Cursor) string {
	if c.IsZero() {
		return ""
	}
	v2 := url.Values{}
	for k, vals := range v {
		v2[k] = vals
	}
	v2.Set("c", c.Encode())
	return "/audit?" + v2.Encode()
}

// targetHref links an audit target to its page, where there is one.
func targetHref(typ, id string) string {
	switch typ {
	case "refund":
		return "/refunds/" + url.PathEscape(id)
	case "col_sweep":
		return "/attention" // the last sweep and its findings
	}
	return ""
}

func auditRow(e audit.Entry) templates.AuditRow {
	return templates.AuditRow{Seq: e.Seq, Time: e.Time, Actor: e.ActorName, Role: e.ActorRole, Action: e.Action,
		Outcome: e.Outcome, TargetType: e.TargetType, TargetID: e.TargetID, ClientIP: e.ClientIP,
		TargetHref: targetHref(e.TargetType, e.TargetID)}
}

// handleAudit serves GET /audit: filtered, keyset-paginated review.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, form := parseAuditFilter(q, s.now(), s.zone)
	cur, err := audit.ParseCursor(q.Get("c"))
	if err != nil {
		form.Errors["q"] = "err.bad_page_link"
		cur = audit.Cursor{}
	}
	localizeErrors(r.Context(), form.Errors)
	now := s.now()
	data := templates.AuditPageData{Filter: form, Actions: knownActions, Chain: s.chain.badge(r.Context(), s.audit, now)}
	data.Actors, err = s.actors.get(now, auditActorsTTL, func() ([]string, error) { return s.audit.Actors(r.Context()) })
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	status := http.StatusOK
	if len(form.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		page, err := s.audit.Query(r.Context(), f, cur, audit.DefaultPageSize)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		for _, e := range page.Entries {
			data.Rows = append(data.Rows, auditRow(e))
		}
		base := filterQuery(form)
		data.PrevHref, data.NextHref = withCursor(base, page.Prev), withCursor(base, page.Next)
	}
	// The export form carries the filters of the view shown, not whatever
	// is typed but not yet applied in the filter form.
	for k, vals := range filterQuery(form) {
		data.ExportFields = append(data.ExportFields, templates.HiddenField{Name: k, Value: vals[0]})
	}
	slices.SortFunc(data.ExportFields, func(a, b templates.HiddenField) int { return strings.Compare(a.Name, b.Name) })
	s.render(w, r, status, templates.AuditPage(s.page(r, "audit.title", "audit"), data))
}

// handleAuditEvent serves GET /audit/events/{seq}.
func (s *Server) handleAuditEvent(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq <= 0 {
		s.renderError(w, r, errNotFound)
		return
	}
	e, err := s.audit.Get(r.Context(), seq)
	if errors.Is(err, audit.ErrNotFound) {
		err = errNotFound
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, templates.AuditEventPage(s.page(r, "title.audit_event", "audit"), templates.AuditEvent{
		Row: auditRow(e), UserAgent: e.UserAgent, RequestID: e.RequestID,
		DetailsJSON: e.DetailsJSON, PrevHash: e.PrevHash, Hash: e.Hash,
	}))
}

// handleAuditExport serves POST /audit/export.csv: the filtered view (the
// filters are the posted form's fields), streamed row by row. It is a POST
// because it records an audit event: a GET would let any link, prefetch or
// cross-site <img> write to the audit trail. The export is audited before
// it starts. The file ends with the chain head it was read from (see
// audit.TrailerHead). If the database fails once rows have gone out, the
// status (200) and part of the file are gone already: the file gets the
// audit.TrailerError record, and then the connection is aborted, so the
// client sees a broken transfer (no final chunk), never a clean end.
func (s *Server) handleAuditExport(w http.ResponseWriter, r *http.Request) {
	f, form := parseAuditFilter(r.PostForm, s.now(), s.zone)
	if len(form.Errors) > 0 {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, tr(r, "err.cannot_export"), tr(r, "err.cannot_export_text"))
		return
	}
	filter := filterQuery(form).Encode()
	if err := s.audit.RecordNow(r.Context(), audit.Event{Action: audit.ActionAuditExport, Outcome: audit.OutcomeSuccess,
		TargetType: "audit", Details: map[string]any{"filter": filter, "via": "web"}}); err != nil {
		s.renderError(w, r, err)
		return
	}
	name := "audit-" + s.now().In(s.zone).Format("20060102-150405") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	out := &sentWriter{w: w}
	n, err := s.audit.ExportCSV(r.Context(), out, f)
	if err == nil {
		return
	}
	if r.Context().Err() != nil {
		return // the client left: nobody to tell
	}
	s.log.ErrorContext(r.Context(), "audit export failed", "err", err, "rows", n)
	if !out.sent {
		// Nothing went out: a clean error page instead of a CSV.
		w.Header().Del("Content-Disposition")
		s.renderError(w, r, err)
		return
	}
	// The incomplete export is itself worth a line in the trail.
	if rerr := s.audit.RecordNow(r.Context(), audit.Event{Action: audit.ActionAuditExport, Outcome: audit.OutcomeFailure,
		TargetType: "audit", Details: map[string]any{"filter": filter, "via": "web", "rows": n, "incomplete": true}}); rerr != nil {
		s.log.ErrorContext(r.Context(), "audit export: recording the failure", "err", rerr)
	}
	_ = http.NewResponseController(w).Flush() // the error record reaches whoever reads on
	panic(http.ErrAbortHandler)
}

// sentWriter notes whether any byte reached the client.
type sentWriter struct {
	w    io.Writer
	sent bool
}

func (s *sentWriter) Write(p []byte) (int, error) {
	s.sent = s.sent || len(p) > 0
	return s.w.Write(p)
}

// handleAuditChain serves GET /audit/chain: the chain badge alone, which
// the audit page asks for every two seconds while a full pass runs.
func (s *Server) handleAuditChain(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, templates.ChainStatus(s.chain.badge(r.Context(), s.audit, s.now())))
}

// handleAuditVerify serves POST /audit/verify: start a full
// re-verification in the background (millions of events take tens of
// seconds) and go back to the audit page, whose badge says when it is done.
// POST, because it starts work a cross-site link should not be able to
// start; viewing /audit never restarts a full pass (the badge checks only
// what was appended since the last one).
func (s *Server) handleAuditVerify(w http.ResponseWriter, r *http.Request) {
	s.chain.restart(s.audit)
	http.Redirect(w, r, "/audit", http.StatusSeeOther)
}

// chainCache keeps the last verification. No page ever waits for a full
// pass over the chain: the first look starts one in the background and the
// badge says so; once it is done, a look checks only the events appended
// since the verified head, and at most once per chainRecheck.
type chainCache struct {
	mu      sync.Mutex
	st      *audit.ChainStatus
	running bool
	checked time.Time // the last incremental check
	// While a full pass runs: the newest event when it started, and the
	// last event it has verified (written per row, read by pages).
	total int64
	done  atomic.Int64
	// hold, in tests only, keeps a full pass from finishing until closed,
	// so the page can be seen while it runs.
	hold chan struct{}
	// A full pass runs until the server's background work stops (stop):
	// it must not outlive the server and read a database being closed.
	stopping chan struct{}
	passes   sync.WaitGroup
	stopOnce sync.Once
}

// stop ends a full pass under way and waits for it.
func (c *chainCache) stop() {
	c.mu.Lock()
	c.stopOnce.Do(func() {
		if c.stopping == nil {
			c.stopping = make(chan struct{})
		}
		close(c.stopping)
	})
	c.mu.Unlock()
	c.passes.Wait()
}

// restart forgets the last result and starts a full verification.
func (c *chainCache) restart(l *audit.Log) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st = nil
	c.startLocked(l)
}

func (c *chainCache) startLocked(l *audit.Log) {
	if c.running {
		return
	}
	if c.stopping == nil {
		c.stopping = make(chan struct{})
	}
	select {
	case <-c.stopping:
		return // the server is stopping: no new pass
	default:
	}
	c.running = true
	c.done.Store(0)
	c.total = 0
	ctx, cancel := context.WithCancel(context.Background())
	stopping := c.stopping
	go func() {
		select {
		case <-stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	if h, err := l.Head(ctx); err == nil {
		c.total = h.Seq
	}
	hold := c.hold
	c.passes.Add(1)
	go func() {
		defer c.passes.Done()
		defer cancel()
		st, err := l.VerifyProgress(ctx, audit.Anchor{}, c.done.Store)
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.running = false
		if err == nil {
			c.st = &st
		}
	}()
}

func (c *chainCache) badge(ctx context.Context, l *audit.Log, now time.Time) templates.ChainBadge {
	c.mu.Lock()
	if c.st == nil {
		c.startLocked(l)
		done, total := c.done.Load(), c.total
		c.mu.Unlock()
		// Never green while it runs: nothing is verified yet.
		return templates.ChainBadge{Running: true, Done: done, Total: total,
			Text: i18n.T(ctx, "chain.checking", done, total)}
	}
	st := *c.st
	age := now.Sub(c.checked)
	recheck := age >= chainRecheck || age < 0
	if recheck {
		c.checked = now // concurrent looks reuse st instead of checking the same events
	}
	c.mu.Unlock()
	if st.OK && recheck {
		next, err := l.Verify(ctx, audit.Anchor{Seq: st.VerifiedSeq + 1, PrevHash: st.HeadHash})
		if err != nil {
			return templates.ChainBadge{Text: i18n.T(ctx, "chain.unchecked")}
		}
		if next.Count > 0 || !next.OK {
			next.Count += st.Count
			if next.VerifiedSeq == st.VerifiedSeq { // broke at the first new event
				next.VerifiedAt, next.HeadHash = st.VerifiedAt, st.HeadHash
			}
			st = next
			c.mu.Lock()
			c.st = &st
			c.mu.Unlock()
		}
	}
	if st.OK {
		if st.Count == 0 {
			return templates.ChainBadge{OK: true, Text: i18n.T(ctx, "audit.no_events")}
		}
		return templates.ChainBadge{OK: true, Text: i18n.T(ctx, "chain.verified", st.VerifiedSeq, templates.LocalTime(ctx, st.VerifiedAt))}
	}
	return templates.ChainBadge{Text: i18n.T(ctx, "chain.broken", st.BrokenSeq, st.Problem, st.VerifiedSeq)}
}
