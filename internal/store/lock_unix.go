//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is returned by LockServer when another server holds the
// database.
var ErrLocked = errors.New("another Refund Desk server is using this database")

// LockServer takes an exclusive OS lock on dbPath+".lock" for as long as
// the process lives (or until release): one server per SQLite file, since
// the worker treats interrupted sends as its own and SQLite has one writer.
// The lock is flock(2), so the kernel drops it when the process dies, even
// on kill -9: a stale lock file never blocks a restart. Subcommands (user,
// audit, migrate) do not take it; they are short transactions that SQLite
// serialises with the server.
func LockServer(dbPath string) (release func() error, err error) {
	name := dbPath + ".lock"
	if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("%w (%s is held by process %s); stop that server first, or give this one its own DATA_DIR", ErrLocked, name, pid)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	// Say who holds it, for the message above; the lock, not the text, is what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() error {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return f.Close()
	}, nil
}
