package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// syncBuffer is a bytes.Buffer safe for a server writing while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func runConfig(t *testing.T, dbPath, addr string) Config {
	t.Helper()
	env := map[string]string{"DB_PATH": dbPath, "NEOX_MODE": "sandbox", "ADDR": addr}
	cfg, err := ParseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startRun runs Run in the background until the test ends and waits for
// it to say it listens.
func startRun(t *testing.T, cfg Config) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, out, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "is listening") {
		select {
		case err := <-done:
			t.Fatalf("Run ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return out
}

// A second server on the same database refuses to start, with a message
// that says why, instead of taking over the first one's in-flight sends.
func TestSecondServerOnTheSameDatabaseRefuses(t *testing.T) {
	db := filepath.Join(t.TempDir(), "desk.db")
	startRun(t, runConfig(t, db, "127.0.0.1:0"))
	err := Run(context.Background(), runConfig(t, db, "127.0.0.1:0"), io.Discard, io.Discard)
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "stop that server first") {
		t.Fatalf("second server: %v", err)
	}
}

// A start that cannot listen creates no admin; the next start that can
// listen creates it and shows its one-time password.
func TestAdminIsCreatedOnlyOnceListening(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	db := filepath.Join(t.TempDir(), "desk.db")
	err = Run(context.Background(), runConfig(t, db, taken.Addr().String()), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("port taken: %v", err)
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var users int
	if err := s.Read.QueryRow(`SELECT count(*) FROM users`).Scan(&users); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if users != 0 {
		t.Fatalf("%d users created by a start that could not listen", users)
	}
	out := startRun(t, runConfig(t, db, "127.0.0.1:0"))
	if !strings.Contains(out.String(), "one-time password") {
		t.Fatalf("second start did not show the password:\n%s", out.String())
	}
}
