package handlers

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rolePatterns are ways of deciding by role name instead of asking the
// policy: a role's name as a string, or a role constant compared.
var rolePatterns = []*regexp.Regexp{
	regexp.MustCompile(`"(staff|manager|admin)"`),
	regexp.MustCompile(`(==|!=)\s*(auth\.Role(Staff|Manager|Admin)|policy\.(Staff|Manager|Admin))\b`),
	regexp.MustCompile(`\b(auth\.Role(Staff|Manager|Admin)|policy\.(Staff|Manager|Admin))\s*(==|!=)`),
	regexp.MustCompile(`\bcase\s+(auth\.Role(Staff|Manager|Admin)|policy\.(Staff|Manager|Admin))\b`),
}

// TestNoRoleChecksOutsidePolicy: who may do what is package policy's
// answer. Handlers and templates ask it (or read booleans computed from
// it); none of them names a role to decide.
func TestNoRoleChecksOutsidePolicy(t *testing.T) {
	var files []string
	for _, glob := range []string{"*.go", "../../web/templates/*.go", "../../web/templates/*.templ"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "_templ.go") {
			continue // tests name roles to sign people in; generated code follows its .templ
		}
		checked++
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			for _, re := range rolePatterns {
				if m := re.FindString(line); m != "" {
					t.Errorf("%s:%d decides by role (%s); ask package policy: %s", f, i+1, m, strings.TrimSpace(line))
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d files: the globs no longer find the handlers and templates", checked)
	}
}

// TestRoleGuardCatches: the patterns find what they are for.
func TestRoleGuardCatches(t *testing.T) {
	for _, line := range []string{
		`if p.Viewer.Role == "manager" {`,
		`case "admin":`,
		`for _, r := range []string{"staff", "manager", "admin"} {`,
		`if u.Role == auth.RoleManager {`,
		`if policy.Admin != role {`,
		`case policy.Staff:`,
	} {
		found := false
		for _, re := range rolePatterns {
			found = found || re.MatchString(line)
		}
		if !found {
			t.Errorf("not caught: %s", line)
		}
	}
	for _, line := range []string{`templates.UserForm{Role: string(policy.Staff)}`, `s.may(u, policy.ViewAll)`} {
		for _, re := range rolePatterns {
			if re.MatchString(line) {
				t.Errorf("caught, but fine: %s", line)
			}
		}
	}
}
