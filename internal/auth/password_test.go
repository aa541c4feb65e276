package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestHashAndVerifyDefaultParams(t *testing.T) {
	h, err := HashPassword(goodPassword, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the default parameters", h)
	}
	for pw, want := range map[string]bool{goodPassword: true, goodPassword + " ": false, "": false} {
		ok, err := VerifyPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	a, _ := HashPassword(goodPassword, testParams)
	b, _ := HashPassword(goodPassword, testParams)
	if a == b {
		t.Fatal("two hashes of the same password are equal: salt is not random")
	}
}

func TestParseHash(t *testing.T) {
	valid, err := HashPassword(goodPassword, testParams)
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Split(valid, "$") // "", argon2id, v=19, params, salt, key
	join := func(parts ...string) string { return strings.Join(parts, "$") }
	tests := []struct {
		name, hash string
		ok         bool
	}{
		{"valid", valid, true},
		{"empty", "", false},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu5xkU7wUaVZ1rEb0m6PjqH2Zb2LbHYbC", false},
		{"argon2i", join("", "argon2i", p[2], p[3], p[4], p[5]), false},
		{"old version", join("", "argon2id", "v=16", p[3], p[4], p[5]), false},
		{"missing key", join("", "argon2id", p[2], p[3], p[4]), false},
		{"extra part", valid + "$x", false},
		{"no leading $", strings.TrimPrefix(valid, "$"), false},
		{"params reordered", join("", "argon2id", p[2], "t=1,m=64,p=1", p[4], p[5]), false},
		{"params missing", join("", "argon2id", p[2], "m=64,t=1", p[4], p[5]), false},
		{"param not a number", join("", "argon2id", p[2], "m=64,t=x,p=1", p[4], p[5]), false},
		{"negative", join("", "argon2id", p[2], "m=64,t=-1,p=1", p[4], p[5]), false},
		{"leading zero", join("", "argon2id", p[2], "m=064,t=1,p=1", p[4], p[5]), false},
		{"zero time", join("", "argon2id", p[2], "m=64,t=0,p=1", p[4], p[5]), false},
		{"zero threads", join("", "argon2id", p[2], "m=64,t=1,p=0", p[4], p[5]), false},
		{"memory too small", join("", "argon2id", p[2], "m=7,t=1,p=1", p[4], p[5]), false},
		{"memory too big", join("", "argon2id", p[2], "m=4194304,t=1,p=1", p[4], p[5]), false},
		{"time too big", join("", "argon2id", p[2], "m=64,t=1000,p=1", p[4], p[5]), false},
		{"salt not base64", join("", "argon2id", p[2], p[3], "!!!!", p[5]), false},
		{"salt padded", join("", "argon2id", p[2], p[3], p[4]+"==", p[5]), false},
		{"salt too short", join("", "argon2id", p[2], p[3], "YWJj", p[5]), false},
		{"key too short", join("", "argon2id", p[2], p[3], p[4], "YWJjZGVm"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, salt, key, err := ParseHash(tt.hash)
			if tt.ok {
				if err != nil {
					t.Fatalf("ParseHash: %v", err)
				}
				want := Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
				if params != want || len(salt) != 16 || len(key) != 32 {
					t.Fatalf("ParseHash = %+v, salt %d, key %d; want %+v", params, len(salt), len(key), want)
				}
				return
			}
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("ParseHash error = %v, want ErrMalformedHash", err)
			}
			if ok, err := VerifyPassword(tt.hash, goodPassword); ok || err == nil {
				t.Fatalf("VerifyPassword on malformed hash = %v, %v", ok, err)
			}
		})
	}
}

// A well-formed hash that was tampered with must verify as a wrong password.
func TestVerifyTamperedHash(t *testing.T) {
	valid, err := HashPassword(goodPassword, testParams)
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Split(valid, "$")
	flip := func(s string) string {
		b := []byte(s)
		if b[2] == 'A' {
			b[2] = 'B'
		} else {
			b[2] = 'A'
		}
		return string(b)
	}
	tests := map[string]string{
		"salt changed":   strings.Join([]string{"", "argon2id", p[2], p[3], flip(p[4]), p[5]}, "$"),
		"key changed":    strings.Join([]string{"", "argon2id", p[2], p[3], p[4], flip(p[5])}, "$"),
		"time changed":   strings.Join([]string{"", "argon2id", p[2], "m=64,t=2,p=1", p[4], p[5]}, "$"),
		"memory changed": strings.Join([]string{"", "argon2id", p[2], "m=72,t=1,p=1", p[4], p[5]}, "$"),
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(h, goodPassword)
			if err != nil || ok {
				t.Fatalf("VerifyPassword = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	h, _ := HashPassword(goodPassword, testParams)
	if needsRehash(h, testParams.withDefaults()) {
		t.Error("same params reported as needing a rehash")
	}
	stronger := testParams.withDefaults()
	stronger.Time = 2
	if !needsRehash(h, stronger) {
		t.Error("weaker stored params not reported as needing a rehash")
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw   string
		ok   bool
		name string
	}{
		{"short", false, "too short"},
		{strings.Repeat("a", 11), false, "11 chars"},
		{"kq7#Vm2pLx9w", true, "12 chars"},
		{"mùa thu Hà Nội", true, "multibyte passphrase"},
		{strings.Repeat("kq7#Vm2pLx9wZt4!", 16), true, "256 chars"},
		{strings.Repeat("kq7#Vm2pLx9wZt4!", 16) + "a", false, "257 chars"},
		{"correct horse battery staple", true, "passphrase"},
		// Long enough, and guessed in seconds (the probe's examples).
		{strings.Repeat("a", 16), false, "one repeated character"},
		{strings.Repeat("a", 300)[:256], false, "256 repeated characters"},
		{"password1234", false, "common password with digits"},
		{"adminadminadmin", false, "repeated common word"},
		{strings.Repeat(" ", 12) + "x", false, "12 spaces and x"},
		{"alice.manager2024", false, "username and a year"},
		{"qwertyuiop123", false, "keyboard row"},
		{strings.Repeat(" ", 12), false, "only spaces"},
		{"alice.manager", false, "equals username"},
		{"\xff\xfe" + strings.Repeat("a", 12), false, "invalid utf-8"},
	}
	for _, tt := range tests {
		if got := checkPassword(tt.pw, "alice.manager").IsZero(); got != tt.ok {
			t.Errorf("%s: acceptable = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		pw, err := randomPassword(20)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 20 || strings.Trim(pw, readableAlphabet) != "" {
			t.Fatalf("randomPassword = %q", pw)
		}
		if seen[pw] {
			t.Fatalf("duplicate random password %q", pw)
		}
		seen[pw] = true
	}
}
