package handlers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// softKey is a software security key (ES256, "none" attestation) that
// answers the desk's ceremonies as a browser would post them, so the
// handlers' refusals can be tested without Chromium.
type softKey struct {
	t     *testing.T
	priv  *ecdsa.PrivateKey
	id    []byte
	count uint32
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{t: t, priv: priv, id: id}
}

var b64 = base64.RawURLEncoding

// options reads the challenge out of a begin answer.
func (k *softKey) challenge(r result) string {
	k.t.Helper()
	if r.status != http.StatusOK {
		k.t.Fatalf("begin: %d %q %.300s", r.status, r.header.Get("Location"), r.body)
	}
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(r.body), &o); err != nil || o.PublicKey.Challenge == "" {
		k.t.Fatalf("begin answer %.300s: %v", r.body, err)
	}
	return o.PublicKey.Challenge
}

func (k *softKey) authData(origin string, flags byte, attested []byte) []byte {
	u, _ := url.Parse(origin)
	rp := sha256.Sum256([]byte(u.Hostname()))
	out := append([]byte{}, rp[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	return append(out, attested...)
}

func clientData(kind, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// register answers a registration ceremony's challenge.
func (k *softKey) register(origin, challenge string) json.RawMessage {
	k.t.Helper()
	x, y := k.priv.X.FillBytes(make([]byte, 32)), k.priv.Y.FillBytes(make([]byte, 32))
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		k.t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	obj, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": k.authData(origin, 0x45, attested)}) // UP, UV, AT
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData("webauthn.create", challenge, origin)),
			"attestationObject": b64.EncodeToString(obj)}})
	return b
}

// assert answers a sign-in ceremony's challenge.
func (k *softKey) assert(origin, challenge string) []byte {
	k.t.Helper()
	k.count++
	ad := k.authData(origin, 0x05, nil) // UP, UV
	cd := clientData("webauthn.get", challenge, origin)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig)}})
	return b
}

// postJSON posts body as a script does.
func (e *env) postJSON(c *http.Client, path string, body []byte) result {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	// WebAuthn takes no IP address as relying party: the desk is asked
	// as localhost (its public URL comes from the request's host here).
	o, _ := url.Parse(e.keyOrigin())
	req.Host = o.Host
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", e.keyOrigin())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	// The cookies go by hand: the jar would file them under the other host.
	base, _ := url.Parse(e.url + path)
	for _, ck := range c.Jar.Cookies(base) {
		req.AddCookie(ck)
	}
	plain := &http.Client{Timeout: c.Timeout, CheckRedirect: c.CheckRedirect}
	resp, err := plain.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	c.Jar.SetCookies(base, resp.Cookies())
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return result{resp.StatusCode, resp.Header, sb.String()}
}

// keyOrigin is the desk's origin as the key ceremonies see it.
func (e *env) keyOrigin() string {
	u, _ := url.Parse(e.url)
	return "http://localhost:" + u.Port()
}

// registerKey registers k for the signed-in client c.
func (e *env) registerKey(c *http.Client, k *softKey, name string) {
	e.t.Helper()
	ch := k.challenge(e.postJSON(c, "/account/2fa/key/begin", []byte("{}")))
	body, _ := json.Marshal(keyRegistration{Name: name, Credential: k.register(e.keyOrigin(), ch)})
	if r := e.postJSON(c, "/account/2fa/key/finish", body); r.status != http.StatusOK {
		e.t.Fatalf("finish registration: %d %.300s", r.status, r.body)
	}
}

// pendingKeySignIn signs name's password in on a fresh client, which then
// waits for its second step.
func (e *env) pendingKeySignIn(name string) *http.Client {
	e.t.Helper()
	c := e.client()
	r := e.post(c, "/login", url.Values{"username": {name}, "password": {testPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login/code" {
		e.t.Fatalf("password step of %s: %d %q", name, r.status, r.header.Get("Location"))
	}
	return c
}

// TestSecurityKeyCeremonies: a key registers and signs in once per
// challenge; a replayed answer, a made-up challenge, a registration
// answer replayed and another user's ceremony are refused (and audited);
// the admin's reset removes the keys.
func TestSecurityKeyCeremonies(t *testing.T) {
	e := newEnv(t)
	ann := e.user("ann", auth.RoleManager)
	e.user("bob", auth.RoleManager)
	e.user("root", auth.RoleAdmin)
	annKey, bobKey := newSoftKey(t), newSoftKey(t)

	// Registration; the same answer again is refused (its challenge is used).
	a := e.login("ann")
	ch := annKey.challenge(e.postJSON(a, "/account/2fa/key/begin", []byte("{}")))
	reg, _ := json.Marshal(keyRegistration{Name: "Ann's key", Credential: annKey.register(e.keyOrigin(), ch)})
	if r := e.postJSON(a, "/account/2fa/key/finish", reg); r.status != http.StatusOK || !strings.Contains(r.body, `"redirect"`) {
		t.Fatalf("register: %d %.300s", r.status, r.body)
	}
	if r := e.postJSON(a, "/account/2fa/key/finish", reg); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("replayed registration: %d %.300s", r.status, r.body)
	}
	if page := e.get(a, "/account"); !strings.Contains(page.body, "Ann&#39;s key") {
		t.Fatalf("key not listed on the account page: %.3000s", page.body)
	}
	e.registerKey(e.login("bob"), bobKey, "")

	// With a key, the password leads to the second step, which offers it.
	p := e.pendingKeySignIn("ann")
	if page := e.get(p, "/login/code"); !strings.Contains(page.body, `data-testid="key-signin"`) {
		t.Fatalf("code page offers no key: %.2000s", page.body)
	}
	ch = annKey.challenge(e.postJSON(p, "/login/key/begin", []byte("{}")))
	answer := annKey.assert(e.keyOrigin(), ch)

	cases := []struct {
		name   string
		client func() *http.Client
		body   func() []byte
		want   int
	}{
		{"no pending sign-in", e.client, func() []byte { return answer }, http.StatusUnauthorized},
		{"made-up challenge", func() *http.Client { return e.pendingKeySignIn("ann") },
			func() []byte {
				return annKey.assert(e.keyOrigin(), b64.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
			}, http.StatusUnauthorized},
		{"ann's ceremony answered in bob's sign-in", func() *http.Client { return e.pendingKeySignIn("bob") },
			func() []byte { return answer }, http.StatusUnauthorized},
		{"bob's key on ann's challenge", func() *http.Client { return p },
			func() []byte { return bobKey.assert(e.keyOrigin(), ch) }, http.StatusUnauthorized},
		{"garbage", func() *http.Client { return e.pendingKeySignIn("ann") },
			func() []byte { return []byte(`{"id":"x"}`) }, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := e.postJSON(tc.client(), "/login/key/finish", tc.body()); r.status != tc.want {
				t.Fatalf("status %d, want %d: %.300s", r.status, tc.want, r.body)
			}
		})
	}

	// Bob's key answering Ann's challenge used that challenge up: a new one.
	ch = annKey.challenge(e.postJSON(p, "/login/key/begin", []byte("{}")))
	answer = annKey.assert(e.keyOrigin(), ch)
	r := e.postJSON(p, "/login/key/finish", answer)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"redirect":"/"`) {
		t.Fatalf("sign-in with the key: %d %.300s", r.status, r.body)
	}
	if got := e.get(p, "/account"); got.status != http.StatusOK {
		t.Fatalf("signed in with the key, the account page answers %d", got.status)
	}
	// The same answer again, in a new sign-in: its challenge is spent.
	if r := e.postJSON(e.pendingKeySignIn("ann"), "/login/key/finish", answer); r.status != http.StatusUnauthorized {
		t.Fatalf("replayed sign-in: %d %.300s", r.status, r.body)
	}

	for action, want := range map[string]int{audit.ActionMFAKeyAdded: 3, audit.ActionMFAKeyUsed: 1, audit.ActionMFAFailed: 5} {
		if n := e.auditCount(action); n != want {
			t.Errorf("%d %s audit rows, want %d", n, action, want)
		}
	}

	// The admin's reset removes the keys: the password alone signs in.
	if r := e.post(e.login("root"), "/users/"+strconv.FormatInt(ann.ID, 10)+"/reset-2fa", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("reset: %d", r.status)
	}
	if keys, err := e.auth.SecurityKeys(t.Context(), ann.ID); err != nil || len(keys) != 0 {
		t.Fatalf("keys after reset: %v %v", keys, err)
	}
	if r := e.post(e.client(), "/login", url.Values{"username": {"ann"}, "password": {testPassword}}); r.header.Get("Location") != "/" {
		t.Fatalf("sign-in after reset: %q", r.header.Get("Location"))
	}
}

// TestSecurityKeyRemove: a key is removed by its owner (audited), not by
// anyone else, and not when it is the last factor a role requires.
func TestSecurityKeyRemove(t *testing.T) {
	e := newEnv(t)
	ann := e.user("ann", auth.RoleManager)
	e.user("bob", auth.RoleManager)
	a := e.login("ann")
	e.registerKey(a, newSoftKey(t), "one")
	keys, err := e.auth.SecurityKeys(t.Context(), ann.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	if r := e.post(e.login("bob"), "/account/2fa/key/remove", url.Values{"id": {keys[0].ID}}); r.status != http.StatusNotFound {
		t.Fatalf("bob removing ann's key: %d", r.status)
	}
	if r := e.post(a, "/account/2fa/key/remove", url.Values{"id": {keys[0].ID}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove: %d %.300s", r.status, r.body)
	}
	if n := e.auditCount(audit.ActionMFAKeyRemoved); n != 1 {
		t.Fatalf("%d mfa.key_removed rows", n)
	}
}
