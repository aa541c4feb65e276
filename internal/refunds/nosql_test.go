package refunds

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlText matches what only SQL says: the refunds package holds the rules,
// internal/store the statements.
var sqlText = regexp.MustCompile(`(?i)\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|INDEXED\s+BY|julianday\s*\(|ON\s+CONFLICT)\b`)

// TestNoSQLInRefunds fails when a non-test file of this package has SQL in
// a string, imports database/sql, or calls the store's transitional SQL
// forwarders or its raw pools.
func TestNoSQLInRefunds(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "database/sql" {
				t.Errorf("%s imports database/sql", name)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && sqlText.MatchString(s) {
					t.Errorf("%s: SQL in a string: %.60q", fset.Position(n.Pos()), s)
				}
			case *ast.SelectorExpr:
				switch n.Sel.Name {
				case "ExecContext", "QueryContext", "QueryRowContext", "PrepareContext", "StmtContext":
					t.Errorf("%s: calls %s: call a typed store operation instead", fset.Position(n.Pos()), n.Sel.Name)
				case "Read", "Write": // the store's pools: s.db.Read, db.Write
					if isDB(n.X) {
						t.Errorf("%s: uses the pool db.%s: call a typed store operation instead", fset.Position(n.Pos()), n.Sel.Name)
					}
				}
			}
			return true
		})
	}
}

func isDB(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.Ident:
		return x.Name == "db"
	case *ast.SelectorExpr:
		return x.Sel.Name == "db"
	}
	return false
}
