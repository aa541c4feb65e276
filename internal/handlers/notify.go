package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// deliveryLogSize is how many deliveries the log page shows.
const deliveryLogSize = 100

func notifyActor(u auth.User) notify.Actor {
	return notify.Actor{ID: u.ID, Name: u.Username, Role: u.Role}
}

// notifyView is the account page's notifications card for u.
func (s *Server) notifyView(r *http.Request, u auth.User) (*templates.NotifyPrefsView, error) {
	p, err := s.notify.Prefs(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	v := &templates.NotifyPrefsView{Email: p.Email, EmailOn: s.emailOn,
		LogLink: s.policy.Permits(policy.Actor{ID: u.ID, Role: u.Role}, policy.ViewDeliveries)}
	for _, k := range notify.KindsFor(s.policy, u.Role) {
		v.Kinds = append(v.Kinds, templates.NotifyKindOption{Kind: string(k), On: !p.Off[k]})
	}
	return v, nil
}

// handleNotifyPrefs serves POST /account/notifications.
func (s *Server) handleNotifyPrefs(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if s.notify == nil {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	var on []notify.Kind
	for _, v := range r.PostForm["on"] {
		if k, ok := notify.ParseKind(v); ok {
			on = append(on, k)
		}
	}
	// Kinds this role never receives stay as they were: on.
	for _, k := range notify.Kinds() {
		if !kindIn(notify.KindsFor(s.policy, u.Role), k) {
			on = append(on, k)
		}
	}
	email := r.PostForm.Get("email")
	err := s.notify.SavePrefs(r.Context(), notifyActor(u), email, on)
	if fields, ok := fault.FieldsOf(err); ok {
		v, verr := s.notifyView(r, u)
		if verr != nil {
			s.renderError(w, r, verr)
			return
		}
		v.Email, v.Errors = email, templates.FieldErrors{"email": fieldTexts(r.Context(), fields)["email"]}
		for i := range v.Kinds {
			v.Kinds[i].On = kindIn(on, notify.Kind(v.Kinds[i].Kind))
		}
		s.renderAccount(w, r, http.StatusUnprocessableEntity, templates.AccountForm{Notify: v}, "")
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/account", "notify-saved")
}

func kindIn(ks []notify.Kind, k notify.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// handleWebhooks serves GET /settings/webhooks.
func (s *Server) handleWebhooks(w http.ResponseWriter, r *http.Request) {
	s.renderWebhooks(w, r, http.StatusOK, templates.WebhooksData{})
}

func (s *Server) renderWebhooks(w http.ResponseWriter, r *http.Request, status int, d templates.WebhooksData) {
	if s.notify == nil {
		http.NotFound(w, r)
		return
	}
	eps, err := s.notify.Endpoints(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, e := range eps {
		d.Rows = append(d.Rows, templates.WebhookRow{ID: e.ID, URL: e.URL, Events: splitComma(e.Events),
			AddedBy: e.CreatedByName, CreatedAt: e.CreatedAt})
	}
	for _, k := range notify.Kinds() {
		d.Kinds = append(d.Kinds, string(k))
	}
	// The secret is in this response only: never cached, never stored.
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, templates.WebhooksPage(s.page(r, "notify.hooks.title", "webhooks"), d))
}

// handleWebhookAdd serves POST /settings/webhooks: the new endpoint's
// secret is shown on the page this once.
func (s *Server) handleWebhookAdd(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if s.notify == nil {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	var kinds []notify.Kind
	var ticked []string
	for _, v := range r.PostForm["events"] {
		if k, ok := notify.ParseKind(v); ok {
			kinds, ticked = append(kinds, k), append(ticked, v)
		}
	}
	url := r.PostForm.Get("url")
	_, secret, err := s.notify.AddEndpoint(r.Context(), notifyActor(u), url, kinds)
	if fields, ok := fault.FieldsOf(err); ok {
		s.renderWebhooks(w, r, http.StatusUnprocessableEntity, templates.WebhooksData{URL: url, Ticked: ticked,
			Errors: templates.FieldErrors{"url": fieldTexts(r.Context(), fields)["url"]}})
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.renderWebhooks(w, r, http.StatusOK, templates.WebhooksData{NewSecret: secret})
}

// handleWebhookRemove serves POST /settings/webhooks/{id}/remove.
func (s *Server) handleWebhookRemove(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if s.notify == nil {
		http.NotFound(w, r)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.renderError(w, r, notify.ErrNotFound)
		return
	}
	if err := s.notify.RemoveEndpoint(r.Context(), notifyActor(u), id); err != nil {
		s.renderError(w, r, err) // notify.ErrNotFound: 404
		return
	}
	redirectFlash(w, r, "/settings/webhooks", "endpoint-removed")
}

// handleDeliveries serves GET /notifications/deliveries.
func (s *Server) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	if s.notify == nil {
		http.NotFound(w, r)
		return
	}
	ds, err := s.notify.Deliveries(r.Context(), "", deliveryLogSize)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var rows []templates.DeliveryRow
	for _, d := range ds {
		rows = append(rows, templates.DeliveryRow{UpdatedAt: d.UpdatedAt, Kind: d.Event.Kind, Channel: d.Channel,
			To: withoutQuery(d.Address), State: d.State, Attempts: d.Attempts, LastError: d.LastError, RefundID: d.Event.RefundID})
	}
	s.render(w, r, http.StatusOK, templates.DeliveriesPage(s.page(r, "notify.log.title", "deliveries"), rows, deliveryLogSize))
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// withoutQuery hides a webhook URL's query, which may carry a receiver's
// token, on the delivery log.
func withoutQuery(u string) string {
	if base, _, ok := strings.Cut(u, "?"); ok {
		return base + "?…"
	}
	return u
}
