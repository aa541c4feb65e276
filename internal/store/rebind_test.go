package store

import "testing"

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE a = ? AND b IN (?, ?)`, `SELECT a FROM t WHERE a = $1 AND b IN ($2, $3)`},
		{`SELECT '?', "q?" FROM t WHERE a = ?`, `SELECT '?', "q?" FROM t WHERE a = $1`},
		{`SELECT 'it''s ?' || ? -- a ? comment` + "\n" + `FROM t WHERE b = ?`, `SELECT 'it''s ?' || $1 -- a ? comment` + "\n" + `FROM t WHERE b = $2`},
		{`SELECT /* ? */ ?`, `SELECT /* ? */ $1`},
		{`CREATE FUNCTION f() AS $$ SELECT '?' $$; SELECT ?`, `CREATE FUNCTION f() AS $$ SELECT '?' $$; SELECT $1`},
		{`SELECT $body$ ? $body$, ?`, `SELECT $body$ ? $body$, $1`},
		{`LIKE ? ESCAPE '\'`, `LIKE $1 ESCAPE '\'`},
	} {
		if got := Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://desk:s3cret@db:5432/desk":         "postgres://desk:xxxxx@db:5432/desk",
		"postgres://desk@db/desk?password=s3cret&x=1": "postgres://desk@db/desk?password=xxxxx&x=1",
		"postgres://db/desk":                          "postgres://db/desk",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
