package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// envelope is the GC/COL answer shape.
type envelope struct {
	Code          int    `json:"code"`
	State         int    `json:"state"`
	Data          any    `json:"data,omitempty"`
	Message       string `json:"message"`
	NeoResponseID string `json:"neoResponseId"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// okEnvelope and failEnvelope build GC/COL answers (state: 2 done, 3 failed).
func okEnvelope(data any) envelope {
	return envelope{Code: 1, State: 2, Data: data, Message: "Successful", NeoResponseID: newID()}
}

func failEnvelope(msg string) envelope {
	return envelope{Code: 2, State: 3, Message: msg, NeoResponseID: newID()}
}

// handleToken serves POST /v2/auth/oauth2/token (client credentials).
func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		GrantType    string `json:"grant_type"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Scope        string `json:"scope"`
	}
	s.mu.Lock()
	s.st.tokenCalls++
	s.mu.Unlock()
	if err := json.Unmarshal(body, &req); err != nil || req.GrantType != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, failEnvelope("VALIDATION_ERROR"))
		return
	}
	if !s.validClient(req.ClientID, req.ClientSecret) {
		writeJSON(w, http.StatusUnauthorized, failEnvelope("INVALID_CLIENT"))
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.st.tokens[tok] = time.Now().Add(s.cfg.TokenTTL)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, okEnvelope(map[string]any{
		"access_token": tok, "token_type": "bearer", "expires_in": int(s.cfg.TokenTTL / time.Second)}))
}

func (s *Sandbox) validClient(id, secret string) bool {
	if id == "" {
		return false
	}
	return (id == s.cfg.ClientID && secret == s.cfg.ClientSecret) ||
		(id == s.cfg.COLClientID && secret == s.cfg.COLClientSecret)
}

// authed answers 401 INVALID_TOKEN unless the bearer token is live.
func (s *Sandbox) authed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.st.tokens[tok]
		s.mu.Unlock()
		if !ok || !known || !time.Now().Before(exp) {
			writeJSON(w, http.StatusUnauthorized, failEnvelope("INVALID_TOKEN"))
			return
		}
		h(w, r, body)
	}
}

// expireTokens invalidates every issued token (FaultExpireToken).
func (s *Sandbox) expireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.st.tokens)
}
