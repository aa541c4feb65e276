package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/bulk"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// uploadMaxBody bounds the body of POST /batches: a file of bulk.MaxBytes
// and the multipart envelope around it. Every other route keeps maxBody.
const uploadMaxBody = bulk.MaxBytes + 64<<10

// bodyLimit is the largest body the request's route accepts.
func (s *Server) bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && r.URL.Path == "/batches" && s.maxBody < uploadMaxBody {
		return uploadMaxBody
	}
	return s.maxBody
}

// handleBatches serves GET /batches: the upload form and the viewer's
// batches.
func (s *Server) handleBatches(w http.ResponseWriter, r *http.Request) {
	s.renderBatches(w, r, http.StatusOK, templates.FieldErrors{})
}

func (s *Server) renderBatches(w http.ResponseWriter, r *http.Request, status int, errs templates.FieldErrors) {
	u, _ := userFrom(r.Context())
	bs, err := s.bulk.List(r.Context(), actorOf(r.Context(), u))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, status, templates.BatchesPage(s.page(r, "bulk.title", "batches"), templates.BatchesData{Batches: bs, Errors: errs}))
}

// handleBatchUpload serves POST /batches (multipart, field "file"): the
// file is parsed and kept, its rows to be checked in the background, and
// the browser goes to its page, which shows the check's progress.
func (s *Server) handleBatchUpload(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		s.renderStatus(w, r, http.StatusBadRequest, tr(r, "error.bad_form_title"), tr(r, "error.bad_form_text"))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s.renderStatus(w, r, http.StatusBadRequest, tr(r, "error.bad_form_title"), tr(r, "error.bad_form_text"))
		return
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The multipart body itself is broken or too large.
			s.uploadFailed(w, r, fmt.Errorf("%w: %w", bulk.ErrUnreadable, err))
			return
		}
		if part.FormName() != "file" {
			continue
		}
		u, _ := userFrom(r.Context())
		b, err := s.bulk.Upload(r.Context(), actorOf(r.Context(), u), part.FileName(), part, s.rowText(r.Context()))
		if err != nil {
			s.uploadFailed(w, r, err)
			return
		}
		redirect(w, r, "/batches/"+b.ID)
		return
	}
	s.renderBatches(w, r, http.StatusUnprocessableEntity, templates.FieldErrors{"file": tr(r, "bulk.err_no_file")})
}

// uploadFailed answers a refused upload: a file the desk cannot use is
// said next to the field; too large is a 413.
func (s *Server) uploadFailed(w http.ResponseWriter, r *http.Request, err error) {
	var fe *bulk.FileError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &fe) && fe.Msg.Key == "bulk.err_too_large":
		s.renderStatus(w, r, http.StatusRequestEntityTooLarge, tr(r, "error.too_large_title"), tr(r, "bulk.err_too_large"))
	case errors.As(err, &fe):
		s.renderBatches(w, r, http.StatusUnprocessableEntity, templates.FieldErrors{"file": errText(r.Context(), fe.Msg)})
	case errors.As(err, &mbe):
		s.renderStatus(w, r, http.StatusRequestEntityTooLarge, tr(r, "error.too_large_title"), tr(r, "bulk.err_too_large"))
	case errors.Is(err, bulk.ErrUnreadable):
		s.renderStatus(w, r, http.StatusBadRequest, tr(r, "error.bad_form_title"), tr(r, "error.bad_form_text"))
	default:
		s.renderError(w, r, err)
	}
}

// rowText renders why a row cannot be a refund, in the uploader's
// language, the way the refund form would say it.
func (s *Server) rowText(ctx context.Context) bulk.Texts {
	return func(err error) string {
		var ve *refunds.ValidationError
		if errors.As(err, &ve) {
			texts := fieldTexts(ctx, ve.Fields)
			keys := make([]string, 0, len(texts))
			for k := range texts {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = columnName(k) + ": " + texts[k]
			}
			return strings.Join(parts, "; ")
		}
		if msg := errText(ctx, err); msg != "" {
			return msg
		}
		if _, msg, ok := neoxProblem(ctx, err, doneRequest); ok {
			return msg
		}
		if msg := lookupMessage(ctx, err); msg != "" {
			return msg
		}
		s.log.WarnContext(ctx, "bulk row refused", "err", err)
		return i18n.T(ctx, "err.lookup_later")
	}
}

// rowTextIn is rowText in a language named by its code (a batch's,
// for its background check); an unknown code is the default language.
func (s *Server) rowTextIn(lang string) bulk.Texts {
	l, ok := i18n.Parse(lang)
	if !ok {
		l = i18n.Default
	}
	return s.rowText(i18n.WithLang(context.Background(), l))
}

// columnName is the file's column for a refund field.
func columnName(field string) string {
	switch field {
	case "api":
		return "product"
	case "transaction_ref":
		return "reference"
	}
	return field
}

// batchFromPath loads the viewer's batch named by {id}; otherwise it has
// answered the request (404, or 403 with an audit row for someone else's).
func (s *Server) batchFromPath(w http.ResponseWriter, r *http.Request) (bulk.Batch, bool) {
	u, _ := userFrom(r.Context())
	b, err := s.bulk.Get(r.Context(), actorOf(r.Context(), u), r.PathValue("id"))
	return b, s.batchFound(w, r, err)
}

// batchFound answers a request for a batch the service refused: 404 for
// none (or a malformed id), 403 with an audit row for someone else's. It
// reports whether err is nil and the handler carries on.
func (s *Server) batchFound(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, bulk.ErrNotFound):
		s.renderError(w, r, errNotFound)
		return false
	case errors.Is(err, bulk.ErrNotYours):
		s.denied(r, deniedNotOwner, "batch", r.PathValue("id"), nil)
		s.renderStatus(w, r, http.StatusForbidden, tr(r, "error.not_allowed"), tr(r, "bulk.not_yours"))
		return false
	case err != nil:
		s.renderError(w, r, err)
		return false
	}
	return true
}

// handleBatch serves GET /batches/{id}: the check's progress, the
// preview, or the results.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	b, prog, ok := s.batchProgressFromPath(w, r)
	if !ok {
		return
	}
	d := templates.BatchData{Batch: b, Progress: prog}
	if b.State != bulk.StateChecking && b.State != bulk.StateCancelled {
		// Checked: every row, with the totals (a reload while checking
		// reads the counts only).
		if b, ok = s.batchFromPath(w, r); !ok {
			return
		}
		d.Batch = b
		for _, t := range b.Totals {
			d.Valid += t.Count
		}
	}
	p := s.page(r, "bulk.title", "batches")
	p.Title = tr(r, "bulk.batch_title", b.FileName)
	s.render(w, r, http.StatusOK, templates.BatchPage(p, d))
}

// batchProgressFromPath loads the viewer's batch named by {id} without its
// rows, with its check's progress; otherwise it has answered the request
// as batchFromPath does.
func (s *Server) batchProgressFromPath(w http.ResponseWriter, r *http.Request) (bulk.Batch, store.BatchProgress, bool) {
	u, _ := userFrom(r.Context())
	b, p, err := s.bulk.Progress(r.Context(), actorOf(r.Context(), u), r.PathValue("id"))
	if !s.batchFound(w, r, err) {
		return b, p, false
	}
	return b, p, true
}

// handleBatchProgress serves GET /batches/{id}/progress: the progress
// fragment the batch page polls while its rows are checked. Once the check
// is over, an htmx poll is told to reload the page (HX-Refresh), which then
// shows the results; a plain request gets the fragment with a link to them.
func (s *Server) handleBatchProgress(w http.ResponseWriter, r *http.Request) {
	b, p, ok := s.batchProgressFromPath(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if b.State != bulk.StateChecking && r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Refresh", "true")
	}
	s.render(w, r, http.StatusOK, templates.BatchProgress(b, p))
}

// handleBatchCancel serves POST /batches/{id}/cancel: the uploader stops
// the check of their batch (nothing of it can be submitted then). A batch
// no longer being checked is left as it is.
func (s *Server) handleBatchCancel(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	b, err := s.bulk.Cancel(r.Context(), actorOf(r.Context(), u), r.PathValue("id"))
	if !s.batchFound(w, r, err) {
		return
	}
	redirect(w, r, "/batches/"+b.ID)
}

// handleBatchSubmit serves POST /batches/{id}/submit: the valid rows
// become refund requests (once, however often it is posted); a batch
// still being checked, or whose check was stopped, submits nothing (409).
func (s *Server) handleBatchSubmit(w http.ResponseWriter, r *http.Request) {
	b, ok := s.batchFromPath(w, r)
	if !ok {
		return
	}
	u, _ := userFrom(r.Context())
	_, err := s.bulk.Submit(r.Context(), actorOf(r.Context(), u), b.ID, s.rowText(r.Context()))
	switch {
	case errors.Is(err, bulk.ErrNotChecked):
		s.renderStatus(w, r, http.StatusConflict, tr(r, "error.not_possible"), tr(r, "bulkp.err_not_checked"))
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, "/batches/"+b.ID)
}

// handleBatchResults serves GET /batches/{id}/results.csv: one line per
// row with its status, message and refund.
func (s *Server) handleBatchResults(w http.ResponseWriter, r *http.Request) {
	b, ok := s.batchFromPath(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := bulk.WriteResults(&buf, b); err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="batch-`+b.ID+`-results.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
