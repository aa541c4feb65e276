package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// cached returns how many statements the pool's one connection keeps.
func cached(t *testing.T, db *sql.DB) int {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := -1
	if err := c.Raw(func(dc any) error { n = len(dc.(*cachingConn).stmts); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := openSQLite(dsn(filepath.Join(t.TempDir(), "c.db"), false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)`)
	for i := range 5 {
		exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, fmt.Sprint("v", i))
	}
	before := cached(t, db)
	exec(`INSERT INTO t (id, v) VALUES (?, ?)`, 10, "v10")
	if got := cached(t, db); got != before {
		t.Errorf("the same insert again: %d statements kept, want %d (reused)", got, before)
	}

	t.Run("a failed statement is usable again", func(t *testing.T) {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 11, "v1"); err == nil {
			t.Fatal("duplicate value accepted")
		}
		exec(`INSERT INTO t (id, v) VALUES (?, ?)`, 11, "v11")
	})

	t.Run("the same query inside its own open rows", func(t *testing.T) {
		q := `SELECT id FROM t WHERE id < ? ORDER BY id`
		var outer, inner []int
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r1, err := c.QueryContext(ctx, q, 3)
		if err != nil {
			t.Fatal(err)
		}
		for r1.Next() {
			var id int
			if err := r1.Scan(&id); err != nil {
				t.Fatal(err)
			}
			outer = append(outer, id)
			r2, err := c.QueryContext(ctx, q, id+1)
			if err != nil {
				t.Fatalf("nested query: %v", err)
			}
			n := 0
			for r2.Next() {
				n++
			}
			if err := r2.Close(); err != nil {
				t.Fatal(err)
			}
			inner = append(inner, n)
		}
		if err := r1.Close(); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(outer) != "[0 1 2]" || fmt.Sprint(inner) != "[1 2 3]" {
			t.Errorf("outer %v, inner counts %v; want [0 1 2] and [1 2 3]", outer, inner)
		}
	})

	t.Run("a changed schema", func(t *testing.T) {
		q := `SELECT * FROM t WHERE id = ?`
		var id int
		var v string
		if err := db.QueryRowContext(ctx, q, 1).Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		exec(`ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'new'`)
		var w string
		if err := db.QueryRowContext(ctx, q, 1).Scan(&id, &v, &w); err != nil || w != "new" {
			t.Errorf("after ALTER TABLE: %q, %v", w, err)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		for i := range stmtCacheSize + 10 {
			var n int
			if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) + %d FROM t`, i)).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		if got := cached(t, db); got > stmtCacheSize {
			t.Errorf("%d statements kept, bound %d", got, stmtCacheSize)
		}
	})
}
