package handlers

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every ?flash=key a handler redirects with must have a message, or the
// user gets no feedback at all after acting.
func TestFlashKeysHaveMessages(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`flash=([a-z]+-[a-z-]+)`)
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			seen++
			if _, ok := flashes[string(m[1])]; !ok {
				t.Errorf("%s redirects with flash=%s, which has no message", f, m[1])
			}
		}
	}
	if seen < 5 {
		t.Fatalf("found only %d flash redirects; the pattern is broken", seen)
	}
}
