// Package pgtest runs a throwaway PostgreSQL cluster of a test's own, for
// tests that must stop and start the database under the server (a restart,
// a crash) without touching the shared server of TEST_DATABASE_URL, which
// other packages' tests use in parallel.
//
// The cluster lives in a temporary directory: initdb with trust
// authentication, a Unix socket in that directory and no TCP listener,
// fsync off (the machine does not crash under the test; the server may).
// Commits stay synchronous: a commit PostgreSQL confirmed survives a stop
// with "immediate", as it would on a production server (with
// synchronous_commit=off it could be lost, and the test would blame the
// application). As root, PostgreSQL runs as
// the postgres user (runuser), as .ci/run does.
//
// Without PostgreSQL's server programs (PGBIN, or /usr/lib/postgresql/*/bin,
// or pg_ctl on PATH) the test is skipped with a message; with CI=true it
// fails instead, so CI cannot pass without running it.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is one running (or stopped) PostgreSQL cluster.
type Cluster struct {
	t   testing.TB
	bin string   // directory of initdb and pg_ctl
	dir string   // socket directory; data/ and log inside
	as  []string // command prefix running as the postgres user when root
}

// Start creates and starts a cluster removed when t ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := binDir()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL's server programs (initdb, pg_ctl) are missing: CI must run this test (.ci/run installs them); set PGBIN to their directory")
		}
		t.Skip("PostgreSQL restart test skipped: initdb and pg_ctl not found (install postgresql or set PGBIN to their directory)")
	}
	// Not t.TempDir: its parents are private to this user, and as root the
	// server runs as postgres. A short path also keeps the socket's within
	// the 107 bytes a Unix socket name may have.
	dir, err := os.MkdirTemp("", "rd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bin: bin, dir: dir}
	t.Cleanup(func() {
		_ = c.ctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", c.data(), "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.Start()
	return c
}

// URL is the cluster's database as a postgres:// URL (superuser postgres,
// database postgres, over the Unix socket).
func (c *Cluster) URL() string {
	return "postgres://postgres@/postgres?host=" + c.dir
}

// Host is the cluster's socket directory (the host of URL).
func (c *Cluster) Host() string { return c.dir }

// Start starts the stopped cluster and waits until it accepts connections
// (after crash recovery when it was stopped with "immediate").
func (c *Cluster) Start() {
	c.t.Helper()
	if err := c.ctl("start", "-w", "-t", "30", "-l", filepath.Join(c.dir, "log"),
		"-o", "-k "+c.dir+" -c listen_addresses='' -c fsync=off"); err != nil {
		c.t.Fatalf("start PostgreSQL: %v\n%s", err, c.Log())
	}
}

// Stop stops the cluster with pg_ctl's mode: "fast" (sessions are ended,
// a clean shutdown) or "immediate" (no shutdown at all: to PostgreSQL, a
// crash, recovered from at the next start).
func (c *Cluster) Stop(mode string) {
	c.t.Helper()
	if err := c.ctl("stop", "-w", "-m", mode); err != nil {
		c.t.Fatalf("stop PostgreSQL (%s): %v", mode, err)
	}
}

// Log is the server's log so far.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	return string(b)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) ctl(args ...string) error {
	args = append([]string{"-D", c.data()}, args...)
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), args...)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	argv := append(slices.Clone(c.as), name)
	argv = append(argv, args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

// binDir finds the directory of PostgreSQL's server programs: PGBIN, the
// newest /usr/lib/postgresql/*/bin (Debian, Ubuntu), or pg_ctl's on PATH;
// "" when there is none.
func binDir() string {
	has := func(dir string) bool {
		_, err1 := os.Stat(filepath.Join(dir, "initdb"))
		_, err2 := os.Stat(filepath.Join(dir, "pg_ctl"))
		return dir != "" && err1 == nil && err2 == nil
	}
	if d := os.Getenv("PGBIN"); has(d) {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if has(d) {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	return ""
}

// version is the major version in /usr/lib/postgresql/<v>/bin.
func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}
