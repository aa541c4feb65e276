package auth

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// Device cookies (OWASP's "Slow Down Online Guessing Attacks with Device
// Cookies"): after a successful sign-in the browser gets a long-lived,
// signed and encrypted cookie naming the username and a random nonce. A
// later attempt at that username presenting it is judged against the
// device's own counter, not the account's budget of untrusted guesses and
// not the address's, so an attacker elsewhere cannot keep the owner out
// (see ThrottlePolicy).
//
// Decisions: the cookie is signed with the session keys (so a rotation of
// SESSION_KEY keeps it valid while the old key is listed), under its own
// name (securecookie binds the name into the MAC, so a session cookie is
// never accepted as a device cookie); it holds up to deviceMaxEntries
// usernames, newest first, so colleagues sharing a browser each stay
// trusted; it is sent only to /login (Path), HttpOnly, SameSite=Lax, Secure
// when BASE_URL is https; it lives deviceMaxAge and every successful
// sign-in renews it, keeping the nonce, so a device's counter survives.
// Nonces are not stored server-side: the throttle's "dev:" rows are the
// only per-device state, and a forged nonce cannot be made without the key.
const (
	// DeviceCookieName is the device cookie's name.
	DeviceCookieName = "rd_device"
	deviceMaxAge     = 90 * 24 * time.Hour
	deviceMaxEntries = 5
	deviceNonceBytes = 16
)

type deviceEntry struct {
	U string `json:"u"` // normalised username
	N string `json:"n"` // base64url nonce
}

type deviceCookie struct {
	codecs []securecookie.Codec
	secure bool
}

func newDeviceCookie(keys [][]byte, secure bool) *deviceCookie {
	codecs := securecookie.CodecsFromPairs(keys...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(int(deviceMaxAge / time.Second))
			sc.SetSerializer(securecookie.JSONEncoder{})
		}
	}
	return &deviceCookie{codecs: codecs, secure: secure}
}

func (d *deviceCookie) entries(r *http.Request) []deviceEntry {
	if d == nil {
		return nil
	}
	c, err := r.Cookie(DeviceCookieName)
	if err != nil || c.Value == "" || len(c.Value) > 4000 {
		return nil
	}
	var es []deviceEntry
	if err := securecookie.DecodeMulti(DeviceCookieName, c.Value, &es, d.codecs...); err != nil {
		return nil
	}
	if len(es) > deviceMaxEntries {
		es = es[:deviceMaxEntries]
	}
	return es
}

// DeviceFor returns the nonce of the request's device cookie for username,
// or "" when the browser is not a trusted device for it (no cookie, a
// cookie that does not verify, or one for other usernames).
func (s *Service) DeviceFor(r *http.Request, username string) string {
	name := NormalizeUsername(username)
	for _, e := range s.devices.Load().entries(r) {
		if e.U == name && e.N != "" {
			return e.N
		}
	}
	return ""
}

// RememberDevice sets (or renews) the device cookie for username after a
// successful sign-in, keeping the device's nonce when it already has one.
func (s *Service) RememberDevice(w http.ResponseWriter, r *http.Request, username string) error {
	d := s.devices.Load()
	if d == nil {
		return errNoStore
	}
	name := NormalizeUsername(username)
	nonce := s.DeviceFor(r, name)
	if nonce == "" {
		b := make([]byte, deviceNonceBytes)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		nonce = base64.RawURLEncoding.EncodeToString(b)
	}
	es := []deviceEntry{{U: name, N: nonce}}
	for _, e := range d.entries(r) {
		if e.U != name && len(es) < deviceMaxEntries {
			es = append(es, e)
		}
	}
	v, err := securecookie.EncodeMulti(DeviceCookieName, es, d.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: DeviceCookieName, Value: v, Path: "/login",
		MaxAge: int(deviceMaxAge / time.Second), HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteLaxMode})
	return nil
}
