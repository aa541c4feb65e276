package auth

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

// sqlText matches the start of a SQL statement in a string literal.
var sqlText = regexp.MustCompile(`(?i)\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b`)

// rawSQLCalls are the database/sql methods (and store.Tx's transitional
// forwarders of them) that take SQL text.
var rawSQLCalls = map[string]bool{"ExecContext": true, "QueryContext": true,
	"QueryRowContext": true, "PrepareContext": true, "StmtContext": true}

// TestNoSQLInAuth keeps the boundary of issue 15: auth holds the rules and
// the store holds the SQL, so no non-test file here imports database/sql,
// spells a statement or runs one.
func TestNoSQLInAuth(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path == "database/sql" {
				t.Errorf("%s imports database/sql: queries belong in internal/store", fset.Position(imp.Pos()))
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind == token.STRING && sqlText.MatchString(n.Value) {
					t.Errorf("%s: SQL in a string: queries belong in internal/store", fset.Position(n.Pos()))
				}
			case *ast.SelectorExpr:
				if rawSQLCalls[n.Sel.Name] {
					t.Errorf("%s: %s runs SQL: call a typed operation of internal/store", fset.Position(n.Pos()), n.Sel.Name)
				}
			}
			return true
		})
	}
}
