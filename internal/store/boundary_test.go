package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlText matches what only SQL says, written as this code base writes
// SQL: keywords in capitals (so "select a refund from the list" is prose).
var sqlText = regexp.MustCompile(`\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|` +
	`CREATE\s+(TABLE|INDEX|TRIGGER)|INDEXED\s+BY|julianday\s*\(|ON\s+CONFLICT|PRAGMA\s+\w+)\b`)

// TestNoSQLOutsideStore keeps the boundary of issue 15: every statement
// lives in this package behind a typed operation, and the domain holds the
// rules. It fails when a non-test Go file elsewhere in the module has SQL
// in a string, imports database/sql, calls a raw query method, reaches for
// the store's pools (db.Read, db.Write) or the test-only Tx.Raw.
func TestNoSQLOutsideStore(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == filepath.Join("internal", "store") || strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		for _, p := range boundaryProblems(fset, f) {
			t.Errorf("%s: %s", rel, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files: is the module root right?", checked)
	}
}

// boundaryProblems lists what f does that only the store may do.
func boundaryProblems(fset *token.FileSet, f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "database/sql" {
			out = append(out, "imports database/sql")
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && sqlText.MatchString(s) {
				out = append(out, fset.Position(n.Pos()).String()+": SQL in a string: "+strconv.Quote(truncate(s, 60)))
			}
		case *ast.SelectorExpr:
			switch n.Sel.Name {
			case "ExecContext", "QueryContext", "QueryRowContext", "PrepareContext", "StmtContext", "Raw":
				out = append(out, fset.Position(n.Pos()).String()+": calls "+n.Sel.Name+": use a typed store operation")
			case "Read", "Write":
				if isDBExpr(n.X) {
					out = append(out, fset.Position(n.Pos()).String()+": uses the pool db."+n.Sel.Name+": use a typed store operation")
				}
			}
		}
		return true
	})
	return out
}

func isDBExpr(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.Ident:
		return x.Name == "db" || x.Name == "DB"
	case *ast.SelectorExpr:
		return x.Sel.Name == "db" || x.Sel.Name == "DB"
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// TestBoundaryCheckCatches plants each kind of breach in a file and
// expects the check to name it.
func TestBoundaryCheckCatches(t *testing.T) {
	tests := map[string]string{
		"SQL in a string": "package x\nvar q = `SELECT id FROM refunds`\n",
		"database/sql":    "package x\nimport _ \"database/sql\"\n",
		"raw call":        "package x\nfunc f(tx T) { tx.ExecContext(nil, \"x\") }\n",
		"the pools":       "package x\nfunc f(s S) { _ = s.db.Read }\n",
		"Tx.Raw":          "package x\nfunc f(tx T) { _ = tx.Raw() }\n",
		"julianday":       "package x\nvar q = \"julianday(x)\"\n",
	}
	for name, src := range tests {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(boundaryProblems(fset, f)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
	fset := token.NewFileSet()
	f, _ := parser.ParseFile(fset, "ok.go", "package x\nvar s = \"select a refund from the list\"\nfunc f(tx T) { tx.AppendAudit() }\n", 0)
	if p := boundaryProblems(fset, f); len(p) != 0 {
		t.Errorf("false alarm: %v", p)
	}
}
