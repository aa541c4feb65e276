package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/trustelem/zxcvbn"
	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. They are stored in every hash (PHC
// string), so changing them later still verifies older hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's argon2id minimum: m=19 MiB, t=2, p=1.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// Bounds on parameters read from a stored hash, so a tampered row cannot
// make a login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	maxThreads   = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// Password length policy, in characters.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// ErrMalformedHash is returned by ParseHash and VerifyPassword for a stored
// hash that is not a valid argon2id PHC string within our bounds.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// HashPassword returns the argon2id PHC string for password with a fresh
// random salt: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded
// standard base64).
func HashPassword(password string, p Params) (string, error) {
	p = p.withDefaults()
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string encoded,
// recomputing with the parameters stored in it and comparing in constant
// time. A malformed hash returns ErrMalformedHash.
func VerifyPassword(encoded, password string) (bool, error) {
	p, salt, key, err := ParseHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// ParseHash splits an argon2id PHC string into its parameters, salt and key.
func ParseHash(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported version", ErrMalformedHash)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters", ErrMalformedHash)
	}
	m, errM := paramValue(kv[0], "m=", 32)
	t, errT := paramValue(kv[1], "t=", 32)
	th, errP := paramValue(kv[2], "p=", 8)
	if err := errors.Join(errM, errT, errP); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters", ErrMalformedHash)
	}
	if th < 1 || th > maxThreads || t < 1 || t > maxTime || m < 8*th || m > maxMemoryKiB {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformedHash)
	}
	salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return Params{}, nil, nil, fmt.Errorf("%w: salt", ErrMalformedHash)
	}
	key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Params{}, nil, nil, fmt.Errorf("%w: key", ErrMalformedHash)
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th),
		SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	return p, salt, key, nil
}

// paramValue parses "m=19456" given prefix "m="; no sign, no leading zeros.
func paramValue(s, prefix string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') || v[0] == '+' {
		return 0, ErrMalformedHash
	}
	return strconv.ParseUint(v, 10, bits)
}

// needsRehash reports whether encoded was made with parameters other than p,
// so a successful login can upgrade it.
func needsRehash(encoded string, p Params) bool {
	got, _, _, err := ParseHash(encoded)
	return err == nil && got != p
}

// hashPassword hashes with the service's parameters.
func (s *Service) hashPassword(password string) (string, error) {
	return HashPassword(password, s.argon)
}

// dummy returns a hash of a random password, made once with the service's
// parameters, that unknown usernames are verified against so they cost the
// same time as known ones.
func (s *Service) dummy() (string, error) {
	s.dummyOnce.Do(func() {
		s.dummyHash, s.dummyErr = s.hashPassword(rand.Text())
	})
	return s.dummyHash, s.dummyErr
}

// checkPassword returns the message for a password that breaks the policy,
// or the zero message when it is acceptable.
func checkPassword(password, username string) fault.Msg {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fault.M("domain.26", "Password is not valid text.")
	case n < MinPasswordLen:
		return fault.M("domain.27", fmt.Sprintf("Password must be at least %d characters.", MinPasswordLen))
	case n > MaxPasswordLen:
		return fault.M("domain.28", fmt.Sprintf("Password must be at most %d characters.", MaxPasswordLen))
	case strings.TrimSpace(password) == "":
		return fault.M("domain.29", "Password must not be only spaces.")
	case username != "" && strings.EqualFold(password, username):
		return fault.M("domain.30", "Password must not be the username.")
	case tooGuessable(password, username):
		return fault.M("err.password_guessable", "This password is too easy to guess: it is close to common passwords, repeated characters or the username. A few unrelated words make a strong one.")
	}
	return fault.Msg{}
}

// minPasswordScore is zxcvbn's "safely unguessable" level (score 3: about
// 10^8 guesses or more), the bar OWASP and NIST SP 800-63B point to: long
// is not enough when it is "aaaaaaaaaaaaaaaa" or "password1234".
const minPasswordScore = 3

// tooGuessable estimates with zxcvbn (a maintained Go port of Dropbox's
// estimator, with its dictionaries of common passwords, names and keyboard
// patterns), treating the username and the product's words as known.
// Scoring looks at the first 64 characters, since the estimator's cost
// grows with length; what is weak there is weak in full.
func tooGuessable(password, username string) bool {
	p := []rune(password)
	if len(p) > 64 {
		p = p[:64]
	}
	r := zxcvbn.PasswordStrength(string(p), []string{username, "refund", "refunds", "desk", "neox", "admin", "manager", "staff"})
	return r.Score < minPasswordScore
}

// GeneratePassword returns a random one-time password of 20 characters
// from an alphabet without look-alikes (about 115 bits), for new accounts
// and resets. Show it once; never log it.
func GeneratePassword() string {
	pw, err := randomPassword(20)
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic("auth: " + err.Error())
	}
	return pw
}

// readableAlphabet leaves out look-alikes (0/O, 1/l/I) for passwords that
// people copy from a terminal.
const readableAlphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomPassword returns n characters drawn uniformly from readableAlphabet.
func randomPassword(n int) (string, error) {
	const maxMultiple = 256 - 256%len(readableAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// Rejection sampling keeps the distribution uniform.
			if int(b) < maxMultiple && len(out) < n {
				out = append(out, readableAlphabet[int(b)%len(readableAlphabet)])
			}
		}
	}
	return string(out), nil
}
