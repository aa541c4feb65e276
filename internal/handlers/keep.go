package handlers

import (
	"net/http"
	"net/url"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// A form posted after its session ended is not lost: the sign-in page
// carries what it held (passwords and the form token left out), and after
// signing in the person lands back on the form's page, which shows the
// values again to check and submit. Nothing kept is ever acted on.

// notKept are the fields never carried: secrets, and the form token, which
// must be fresh so that the kept form is a new request.
var notKept = map[string]bool{"password": true, "current": true, "new": true, "confirm": true,
	"token": true, "username": true, "next": true, "kept": true}

// maxKept bounds what a sign-in carries (a refund form with its longest
// reason is about 4 KB).
const maxKept = 16 << 10

const (
	keptValues = "kept"
	keptFor    = "kept_for"
)

// keepable encodes the posted fields worth keeping; "" when none or too many.
func keepable(pf url.Values) string {
	v := url.Values{}
	for k, vs := range pf {
		if !notKept[k] {
			v[k] = vs
		}
	}
	enc := v.Encode()
	if len(enc) > maxKept {
		return ""
	}
	return enc
}

// formPage is the page a form was posted from: for a refund request, its
// form; otherwise the Referer when it is a page of this site.
func formPage(r *http.Request) string {
	if r.URL.Path == "/refunds" {
		q := url.Values{}
		for _, k := range []string{"api", "ref", "payment", "sub_merchant_id"} {
			if v := r.PostForm.Get(k); v != "" {
				q.Set(k, v)
			}
		}
		return "/refunds/new?" + q.Encode()
	}
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || ref.Path == "/login" {
		return ""
	}
	return safeNext(ref.RequestURI())
}

// expiredForm answers a form posted without a valid session: the sign-in
// page, saying why, carrying the form's values back to its page.
func (s *Server) expiredForm(w http.ResponseWriter, r *http.Request) {
	f := templates.LoginForm{Expired: true, Next: formPage(r)}
	if f.Next != "" {
		f.Kept = keepable(r.PostForm)
	}
	s.render(w, r, http.StatusUnauthorized, templates.LoginPage(s.page(r, "login.title", ""), f))
}

// keptSessionValues are the first values of a session started from a
// sign-in that carried a form: the values and the page they belong to.
func keptSessionValues(kept, next string) map[string]any {
	if kept == "" || len(kept) > maxKept || next == "" {
		return nil
	}
	if _, err := url.ParseQuery(kept); err != nil {
		return nil
	}
	u, err := url.Parse(next)
	if err != nil {
		return nil
	}
	return map[string]any{keptValues: kept, keptFor: u.Path}
}

// takeKept returns, once, the values kept for this page by the sign-in.
func (s *Server) takeKept(r *http.Request) url.Values {
	sess, ok := r.Context().Value(keySession).(auth.Session)
	if !ok {
		return nil
	}
	kept, _ := sess.Values[keptValues].(string)
	path, _ := sess.Values[keptFor].(string)
	if kept == "" || path != r.URL.Path {
		return nil
	}
	before, err := s.auth.UpdateValues(r.Context(), sess.ID, nil, keptValues, keptFor)
	if err != nil {
		s.log.WarnContext(r.Context(), "kept form values not cleared", "err", err)
		return nil
	}
	// As stored: another request may have taken them, or kept others.
	kept, _ = before[keptValues].(string)
	if path, _ := before[keptFor].(string); kept == "" || path != r.URL.Path {
		return nil
	}
	v, err := url.ParseQuery(kept)
	if err != nil {
		return nil
	}
	return v
}
