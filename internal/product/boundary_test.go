package product_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// productName matches code that names one of the NeoX products: the
// refunds constants or the bare codes in quotes.
var productName = regexp.MustCompile(`\bAPI(PG|GC|COL)\b|"(PG|GC|COL)"`)

// knownProductLines is, per file outside the product packages and
// internal/neox, how many lines still name a product (a switch, a
// comparison or a list). The number may only go down: code that asks
// "which product is this?" instead of asking the product (internal/product
// Registry) fails this test. Lower a number, or remove the file, when you
// move its product code into the products.
var knownProductLines = map[string]int{
	"internal/refunds/refund.go": 3, // the API constants
}

func TestNoProductSwitchOutsideTheProducts(t *testing.T) {
	root := filepath.Join("..", "..")
	got := map[string]int{}
	for _, dir := range []string{"internal", "web", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if rel == "internal/neox" || rel == "internal/product" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(rel, "_test.go") || strings.HasSuffix(rel, "_templ.go") ||
				!(strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, ".templ")) {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if productName.MatchString(sc.Text()) {
					got[rel]++
				}
			}
			return sc.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) == 0 {
		t.Fatal("no file names a product: the scan is broken")
	}
	for file, n := range got {
		if allowed := knownProductLines[file]; n > allowed {
			t.Errorf("%s: %d lines name a NeoX product (%d allowed): ask the product through the registry "+
				"(internal/product) instead of switching on its name", file, n, allowed)
		}
	}
	for file, allowed := range knownProductLines {
		if got[file] < allowed {
			t.Logf("%s: %d lines name a product, %d allowed: lower the allowance", file, got[file], allowed)
		}
	}
}
