package templates

import (
	"context"
	"slices"
	"strings"

	"github.com/a-h/templ"

	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// FormField names one field of a form for its error summary: the key of
// its message in FieldErrors and the id of its control, which the
// summary links to.
type FormField struct{ Name, ID string }

// summaryItem is one line of an error summary; ID is empty for a message
// about the whole form.
type summaryItem struct{ Key, ID, Msg string }

// summaryItems lists errs in the form's order (fields), then messages
// about the whole form or a field the form does not name, by key.
func summaryItems(errs FieldErrors, fields []FormField) []summaryItem {
	var out, rest []summaryItem
	named := map[string]bool{}
	for _, f := range fields {
		named[f.Name] = true
		if msg, ok := errs[f.Name]; ok {
			out = append(out, summaryItem{f.Name, f.ID, msg})
		}
	}
	for k, msg := range errs {
		if !named[k] {
			rest = append(rest, summaryItem{Key: k, Msg: msg})
		}
	}
	slices.SortFunc(rest, func(a, b summaryItem) int { return strings.Compare(a.Key, b.Key) })
	return append(rest, out...)
}

// errorID is the id of a field's message (FieldError renders it).
func errorID(field string) string { return field + "-error" }

// aria links a control to its hint (an element id, or "") and to its
// error message, and marks it invalid while it has one.
func aria(errs FieldErrors, field, hint string) templ.Attributes {
	a := templ.Attributes{"aria-invalid": invalid(errs, field)}
	var ids []string
	if hint != "" {
		ids = append(ids, hint)
	}
	if _, ok := errs[field]; ok {
		ids = append(ids, errorID(field))
	}
	if len(ids) > 0 {
		a["aria-describedby"] = strings.Join(ids, " ")
	}
	return a
}

// RefundTitle is a refund page's <title>: what people recognise (product,
// reference, amount, state) and the start of its id, so two refunds of
// one transaction still have different titles in tabs and history.
func RefundTitle(ctx context.Context, r refunds.Refund) string {
	return tr(ctx, "rd.page_title", string(r.API), r.TransactionRef, Money(ctx, r.Amount, r.Currency),
		tr(ctx, "status."+shownState(r)), shortID(r.ID))
}
