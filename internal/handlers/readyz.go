package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// integrityEvery is how often /readyz has the database's quick_check run
// at most, however often it is asked.
const integrityEvery = time.Minute

// readiness remembers when /readyz last started an integrity check, so
// probes every few seconds cost a full read of the file once a minute.
type readiness struct {
	mu      sync.Mutex
	started time.Time // New sets the server's start: the app checks the file then
	running bool
}

// handleReadyz serves GET /readyz: 503 unless the database answers a
// read, takes a write (a probe rolled back) and was not found damaged by
// its last quick_check. The check runs in the background, at most once a
// minute, so the probe itself stays cheap; its finding shows from the
// next probe on. /healthz stays the liveness probe: a damaged database is
// no reason to restart the process.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fail := func(what string, err error) {
		s.log.ErrorContext(ctx, "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(what + "\n"))
	}
	if err := s.db.Ping(ctx); err != nil {
		fail("database unavailable", err)
		return
	}
	if err := s.db.ProbeWrite(ctx); err != nil {
		fail("database not writable", err)
		return
	}
	s.checkIntegrityEveryMinute()
	if err := s.db.Damaged(); err != nil {
		// Answering queries is not enough to be ready when pages on disk
		// are damaged.
		fail("database damaged", err)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// checkIntegrityEveryMinute starts the database's quick_check in the
// background unless one runs or one started less than a minute ago.
func (s *Server) checkIntegrityEveryMinute() {
	now := s.now()
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	if s.ready.running || now.Sub(s.ready.started) < integrityEvery {
		return
	}
	s.ready.running, s.ready.started = true, now
	go func() {
		defer func() {
			s.ready.mu.Lock()
			s.ready.running = false
			s.ready.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := s.db.CheckIntegrity(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("database integrity check failed", "err", err)
		}
	}()
}
