package storetest

import (
	"fmt"
	"strings"
	"testing"
)

// fakeTB records how URL ends a test instead of ending this one.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

type stop struct{}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Name() string                   { return "TestX" }
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...); panic(stop{}) }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skip = fmt.Sprintf(format, a...); panic(stop{}) }

func urlOf(f *fakeTB) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stop); !ok {
				panic(r)
			}
		}
	}()
	URL(f, Postgres)
}

// Without TEST_DATABASE_URL a PostgreSQL case is skipped, with a message
// saying how to run it; under CI=true it fails instead.
func TestWithoutAServer(t *testing.T) {
	t.Setenv(EnvURL, "")
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{{"", false}, {"true", true}} {
		t.Setenv("CI", tc.ci)
		f := &fakeTB{}
		urlOf(f)
		switch {
		case tc.wantFail && (f.fatal == "" || !strings.Contains(f.fatal, EnvURL)):
			t.Errorf("CI=%q: fatal %q, skip %q; want a failure naming %s", tc.ci, f.fatal, f.skip, EnvURL)
		case !tc.wantFail && (f.skip == "" || f.fatal != "" || !strings.Contains(f.skip, EnvURL)):
			t.Errorf("CI=%q: fatal %q, skip %q; want a skip naming %s", tc.ci, f.fatal, f.skip, EnvURL)
		}
	}
}

func TestDialectOf(t *testing.T) {
	t.Setenv(EnvDialect, "")
	Each(t, func(t *testing.T, d string) {
		t.Run("nested", func(t *testing.T) {
			if got := DialectOf(t); got != d {
				t.Errorf("DialectOf = %s, want %s", got, d)
			}
		})
	})
	if DialectOf(t) != SQLite {
		t.Error("outside Each the default is SQLite")
	}
	t.Setenv(EnvDialect, Postgres)
	if DialectOf(t) != Postgres {
		t.Error("STORE_TEST_DIALECT=postgres is not followed")
	}
}
