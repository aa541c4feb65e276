//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLockServerOneAtATime(t *testing.T) {
	db := filepath.Join(t.TempDir(), "desk.db")
	release, err := LockServer(db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockServer(db)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second server: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	again, err := LockServer(db)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
	// Another database is another lock.
	other, err := LockServer(filepath.Join(t.TempDir(), "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	other()
}
