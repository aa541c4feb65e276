package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
)

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"staff": RoleStaff, " Manager ": RoleManager, "ADMIN": RoleAdmin} {
		if got, err := ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "root", "staffs"} {
		if _, err := ParseRole(in); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParseRole(%q) error = %v, want ErrInvalidInput", in, err)
		}
	}
}

func TestCreateUserValidation(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name, username, display string
		role                    Role
		password                string
		wantFields              []string
	}{
		{"too short username", "ab", "", RoleStaff, goodPassword, []string{"username"}},
		{"too long username", strings.Repeat("a", 33), "", RoleStaff, goodPassword, []string{"username"}},
		{"space in username", "ann smith", "", RoleStaff, goodPassword, []string{"username"}},
		{"unicode username", "anné", "", RoleStaff, goodPassword, []string{"username"}},
		{"bad role", "ann", "", Role("root"), goodPassword, []string{"role"}},
		{"short password", "ann", "", RoleStaff, "short", []string{"password"}},
		{"long password", "ann", "", RoleStaff, strings.Repeat("x", 257), []string{"password"}},
		{"control char in name", "ann", "Ann\x00", RoleStaff, goodPassword, []string{"display_name"}},
		{"everything wrong", "a", strings.Repeat("x", 101), "", "x", []string{"username", "display_name", "role", "password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.svc.CreateUser(ctx, tt.username, tt.display, tt.role, tt.password, false)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error = %v, want *ValidationError", err)
			}
			if len(ve.Fields) != len(tt.wantFields) {
				t.Errorf("fields = %v, want %v", ve.Fields, tt.wantFields)
			}
			for _, f := range tt.wantFields {
				if ve.Fields[f].IsZero() {
					t.Errorf("no message for field %q in %v", f, ve.Fields)
				}
			}
			wantWeak := !ve.Fields["password"].IsZero()
			if errors.Is(err, ErrWeakPassword) != wantWeak {
				t.Errorf("errors.Is(ErrWeakPassword) = %v, want %v", !wantWeak, wantWeak)
			}
		})
	}
	if n := env.countRows(t, `SELECT count(*) FROM users`); n != 0 {
		t.Fatalf("%d users created by invalid input", n)
	}
	if n := len(env.events(t)); n != 0 {
		t.Fatalf("%d audit events for invalid input", n)
	}
}

func TestCreateUser(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	u, err := env.svc.CreateUser(ctx, "  Ann.Lee ", " Ann Lee ", RoleManager, goodPassword, true)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "ann.lee" || u.DisplayName != "Ann Lee" || u.Role != RoleManager || !u.MustChangePassword || u.ID == 0 {
		t.Fatalf("created %+v", u)
	}
	got, err := env.svc.UserByUsername(ctx, "ANN.LEE")
	if err != nil {
		t.Fatal(err)
	}
	if got != u {
		t.Fatalf("stored user %+v differs from returned %+v", got, u)
	}
	var hash string
	env.db.Read.QueryRow(`SELECT password_hash FROM users WHERE id = ?`, u.ID).Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, goodPassword) {
		t.Fatalf("stored password hash %q", hash)
	}
	ev := env.wantLastEvent(t, audit.ActionUserCreated, audit.OutcomeSuccess)
	if ev.TargetType != "user" || ev.TargetID != userTarget(u.ID) || ev.Details["role"] != "manager" {
		t.Fatalf("audit event %+v", ev)
	}
	for _, d := range ev.Details {
		if s, ok := d.(string); ok && strings.Contains(s, goodPassword) {
			t.Fatal("password in audit details")
		}
	}

	if _, err := env.svc.CreateUser(ctx, "ANN.LEE", "", RoleStaff, goodPassword, false); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("duplicate username (other case) error = %v, want ErrUsernameTaken", err)
	}
	if _, err := env.svc.User(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("User(999) error = %v", err)
	}
	if _, err := env.svc.UserByUsername(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UserByUsername(nobody) error = %v", err)
	}
}

// The audit event commits with the change or not at all.
func TestCreateUserRollsBackWhenAuditFails(t *testing.T) {
	env := newEnv(t)
	env.rec.failOn.Store(audit.ActionUserCreated)
	if _, err := env.svc.CreateUser(context.Background(), "bob", "", RoleStaff, goodPassword, false); err == nil {
		t.Fatal("CreateUser succeeded although the audit record failed")
	}
	if n := env.countRows(t, `SELECT count(*) FROM users`); n != 0 {
		t.Fatalf("user committed without its audit event (%d users)", n)
	}
}

func TestListAndCountUsers(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"carol", "alice", "bob"} {
		env.mustCreate(t, n, RoleStaff)
	}
	users, err := env.svc.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	if strings.Join(names, ",") != "alice,bob,carol" {
		t.Fatalf("ListUsers order = %v", names)
	}
	if n, err := env.svc.CountUsers(ctx); err != nil || n != 3 {
		t.Fatalf("CountUsers = %d, %v", n, err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	pw, created, err := env.svc.EnsureAdmin(ctx)
	if err != nil || !created {
		t.Fatalf("EnsureAdmin = %v, %v", created, err)
	}
	if len(pw) != 20 || strings.Trim(pw, readableAlphabet) != "" {
		t.Fatalf("one-time password %q", pw)
	}
	u, err := env.svc.Authenticate(ctx, "admin", pw, "10.0.0.1")
	if err != nil {
		t.Fatalf("admin cannot log in with the one-time password: %v", err)
	}
	if u.Role != RoleAdmin || !u.MustChangePassword {
		t.Fatalf("bootstrap admin %+v", u)
	}
	created0 := env.events(t)[0]
	if created0.Action != audit.ActionUserCreated || created0.ActorName != "system" {
		t.Fatalf("bootstrap audit event %+v", created0)
	}
	pw2, created, err := env.svc.EnsureAdmin(ctx)
	if err != nil || created || pw2 != "" {
		t.Fatalf("second EnsureAdmin = %q, %v, %v", pw2, created, err)
	}
	if n, _ := env.svc.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users after second EnsureAdmin", n)
	}
}

func TestSetRole(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	admin := env.mustCreate(t, "root", RoleAdmin)
	u := env.mustCreate(t, "sam", RoleStaff)
	if err := env.svc.SetRole(ctx, u.ID, RoleManager); err != nil {
		t.Fatal(err)
	}
	ev := env.wantLastEvent(t, audit.ActionUserRoleChanged, audit.OutcomeSuccess)
	if ev.Details["from"] != "staff" || ev.Details["to"] != "manager" {
		t.Fatalf("role change details %v", ev.Details)
	}
	if got, _ := env.svc.User(ctx, u.ID); got.Role != RoleManager {
		t.Fatalf("role = %s", got.Role)
	}
	if err := env.svc.SetRole(ctx, admin.ID, RoleStaff); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v, want ErrLastAdmin", err)
	}
	if err := env.svc.SetRole(ctx, u.ID, "boss"); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("bad role: %v", err)
	}
	if err := env.svc.SetRole(ctx, 999, RoleStaff); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	if err := env.svc.SetRole(ctx, u.ID, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := env.svc.SetRole(ctx, admin.ID, RoleStaff); err != nil {
		t.Fatalf("demoting an admin while another exists: %v", err)
	}
}

func TestSetDisabled(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	admin := env.mustCreate(t, "root", RoleAdmin)
	u := env.mustCreate(t, "sam", RoleStaff)
	if err := env.svc.SetDisabled(ctx, admin.ID, true); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("disabling the last admin: %v, want ErrLastAdmin", err)
	}
	if err := env.svc.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	env.wantLastEvent(t, audit.ActionUserDisabled, audit.OutcomeSuccess)
	if err := env.svc.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if n := env.countEvents(t, audit.ActionUserDisabled); n != 1 {
		t.Fatalf("no-op disable audited: %d events", n)
	}
	if err := env.svc.SetDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	env.wantLastEvent(t, audit.ActionUserEnabled, audit.OutcomeSuccess)
	if err := env.svc.SetDisabled(ctx, 999, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestSetLang(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	u := env.mustCreate(t, "sam", RoleStaff)
	for lang, ok := range map[string]bool{"vi": true, "en-US": true, "": true, "english!": false, "x": false} {
		err := env.svc.SetLang(ctx, u.ID, lang)
		if (err == nil) != ok {
			t.Errorf("SetLang(%q) = %v", lang, err)
		}
		if ok {
			if got, _ := env.svc.User(ctx, u.ID); got.Lang != lang {
				t.Errorf("lang = %q, want %q", got.Lang, lang)
			}
		}
	}
	if err := env.svc.SetLang(ctx, 999, "vi"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	u, err := env.svc.CreateUser(ctx, "sam", "", RoleStaff, goodPassword, true)
	if err != nil {
		t.Fatal(err)
	}
	const next = "a much better passphrase"

	err = env.svc.ChangePassword(ctx, u.ID, "wrong password!", next)
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong current password: %v", err)
	}
	env.wantLastEvent(t, audit.ActionPasswordChange, audit.OutcomeFailure)
	if err := env.svc.ChangePassword(ctx, u.ID, goodPassword, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak new password: %v", err)
	}
	if err := env.svc.ChangePassword(ctx, u.ID, goodPassword, goodPassword); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("unchanged password: %v", err)
	}
	if err := env.svc.ChangePassword(ctx, u.ID, goodPassword, next); err != nil {
		t.Fatal(err)
	}
	env.wantLastEvent(t, audit.ActionPasswordChange, audit.OutcomeSuccess)
	if _, err := env.svc.Authenticate(ctx, "sam", goodPassword, ""); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	got, err := env.svc.Authenticate(ctx, "sam", next, "")
	if err != nil {
		t.Fatalf("new password rejected: %v", err)
	}
	if got.MustChangePassword {
		t.Fatal("must-change flag not cleared")
	}
	if err := env.svc.ChangePassword(ctx, 999, next, goodPassword); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestChangePasswordIsThrottled(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	u := env.mustCreate(t, "sam", RoleStaff)
	for range 5 {
		if err := env.svc.ChangePassword(ctx, u.ID, "wrong password!", "a much better passphrase"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong current password: %v", err)
		}
	}
	err := env.svc.ChangePassword(ctx, u.ID, goodPassword, "a much better passphrase")
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("6th attempt: %v, want ErrThrottled", err)
	}
}

func TestResetPassword(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	u := env.mustCreate(t, "sam", RoleStaff)
	const next = "temporary password 1"
	if err := env.svc.ResetPassword(ctx, u.ID, "short", true); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak password: %v", err)
	}
	if err := env.svc.ResetPassword(ctx, u.ID, next, true); err != nil {
		t.Fatal(err)
	}
	ev := env.wantLastEvent(t, audit.ActionUserPasswordReset, audit.OutcomeSuccess)
	if ev.TargetID != userTarget(u.ID) || ev.Details["must_change"] != true {
		t.Fatalf("reset event %+v", ev)
	}
	got, err := env.svc.Authenticate(ctx, "sam", next, "")
	if err != nil || !got.MustChangePassword {
		t.Fatalf("after reset: %+v, %v", got, err)
	}
	if err := env.svc.ResetPassword(ctx, 999, next, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
