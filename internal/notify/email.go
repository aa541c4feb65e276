package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// SMTPConfig is how the desk reaches its mail server (SMTP_*).
type SMTPConfig struct {
	Host     string // empty: email is off
	Port     int    // default by TLS: 465 for tls, 587 for starttls, 25 for none
	Username string
	Password string // never logged
	From     string // the From address, e.g. "Refund Desk <desk@example.com>"
	TLS      string // starttls (default), tls, none
	Timeout  time.Duration
}

// Enabled reports whether email is configured.
func (c SMTPConfig) Enabled() bool { return c.Host != "" }

// Check says what is wrong with c, naming the setting; nil when email is
// off or c is usable. It never repeats the password.
func (c *SMTPConfig) Check() error {
	if !c.Enabled() {
		if c.Username != "" || c.Password != "" || c.From != "" {
			return errors.New("SMTP_USERNAME, SMTP_PASSWORD or SMTP_FROM is set but SMTP_HOST is not: set SMTP_HOST to send email, or unset the others")
		}
		return nil
	}
	switch c.TLS {
	case "":
		c.TLS = "starttls"
	case "starttls", "tls", "none":
	default:
		return fmt.Errorf("SMTP_TLS must be starttls, tls or none, not %q", c.TLS)
	}
	if strings.ContainsAny(c.Host, " /:@") {
		return fmt.Errorf("SMTP_HOST must be a host name or address without a port or scheme (put the port in SMTP_PORT), not %q", c.Host)
	}
	if c.Port == 0 {
		c.Port = map[string]int{"tls": 465, "starttls": 587, "none": 25}[c.TLS]
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("SMTP_PORT must be between 1 and 65535, not %d", c.Port)
	}
	if c.From == "" {
		return errors.New("SMTP_FROM is required when SMTP_HOST is set (the From address of notification emails)")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("SMTP_FROM %q is not an email address: %v", c.From, err)
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("SMTP_USERNAME and SMTP_PASSWORD go together: set both or neither")
	}
	if c.Username != "" && c.TLS == "none" {
		return errors.New("SMTP_TLS=none with SMTP_USERNAME would send the password in clear text: use starttls or tls")
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	return nil
}

// EmailSender sends notifications over SMTP, one connection per message.
type EmailSender struct {
	cfg SMTPConfig
	loc *time.Location
}

// NewEmailSender returns a sender for a checked config; loc is the zone
// times are written in (nil: UTC).
func NewEmailSender(cfg SMTPConfig, loc *time.Location) *EmailSender {
	if loc == nil {
		loc = time.UTC
	}
	return &EmailSender{cfg: cfg, loc: loc}
}

// Send emails ev to d's address in d's language.
func (s *EmailSender) Send(ctx context.Context, d store.NotifyDelivery, ev Event) error {
	m := gomail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return &Permanent{fmt.Errorf("SMTP_FROM: %w", err)}
	}
	if err := m.To(d.Address); err != nil {
		return &Permanent{fmt.Errorf("recipient address: %w", err)}
	}
	subject, body := Compose(langOf(d.Lang), ev, s.loc)
	m.Subject(subject)
	m.SetBodyString(gomail.TypeTextPlain, body)
	m.SetMessageID()
	m.SetDate()
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return &Permanent{fmt.Errorf("SMTP client: %w", err)}
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("SMTP %s:%d: %s", s.cfg.Host, s.cfg.Port, strings.ReplaceAll(err.Error(), s.cfg.Password, "xxxxx"))
	}
	return nil
}

func langOf(s string) i18n.Lang {
	if l, ok := i18n.Parse(s); ok {
		return l
	}
	return i18n.Default
}

// Compose is an event's email in language l: a subject and a plain-text
// body with a link to the refund.
func Compose(l i18n.Lang, ev Event, loc *time.Location) (string, string) {
	d := ev.Data
	amount := FormatAmount(d.Amount, d.Currency)
	k := "notify.mail." + string(ev.Kind)
	var subject string
	var lines []string
	switch ev.Kind {
	case KindOutage:
		since := d.Since
		if t, err := time.Parse(time.RFC3339, d.Since); err == nil {
			since = t.In(loc).Format("02/01/2006 15:04:05 MST")
		}
		subject = l.T(k+".subject", d.API)
		lines = append(lines, l.T(k+".body", d.API, d.Operation, since), l.T("notify.mail.last_error", d.LastError))
	case KindDecided:
		key := k + ".approved"
		if d.Decision != "APPROVED" {
			key = k + ".rejected"
		}
		subject = l.T(key+".subject", d.API, d.TransactionRef, amount)
		lines = append(lines, l.T(key+".body", d.API, d.TransactionRef, amount, d.DecidedBy))
		if d.Note != "" {
			lines = append(lines, l.T("notify.mail.note", d.Note))
		}
	case KindOutcome:
		key := k + ".succeeded"
		if d.Outcome != "SUCCEEDED" {
			key = k + ".failed"
		}
		subject = l.T(key+".subject", d.API, d.TransactionRef, amount)
		lines = append(lines, l.T(key+".body", d.API, d.TransactionRef, amount))
		if d.FailedReason != "" {
			lines = append(lines, l.T("notify.mail.failed_reason", d.FailedReason))
		}
	default: // requested, reminder, needs attention
		subject = l.T(k+".subject", d.API, d.TransactionRef, amount)
		lines = append(lines, l.T(k+".body", d.API, d.TransactionRef, amount, d.RequestedBy))
		if d.Reason != "" {
			lines = append(lines, l.T("notify.mail.reason", d.Reason))
		}
	}
	if d.URL != "" {
		lines = append(lines, "", l.T("notify.mail.open", d.URL))
	}
	lines = append(lines, "", "-- ", l.T("notify.mail.footer"))
	return subject, strings.Join(lines, "\n") + "\n"
}

// zeroDecimal lists the currencies without minor units the desk meets.
var zeroDecimal = map[string]bool{"VND": true, "JPY": true, "KRW": true, "CLP": true, "ISK": true}

// FormatAmount writes minor units as the pages do: 1.250.000 ₫, 89,90 EUR.
func FormatAmount(minor int64, currency string) string {
	if currency == "" {
		currency = "VND"
	}
	neg := minor < 0
	if neg {
		minor = -minor
	}
	whole, frac := minor, int64(-1)
	if !zeroDecimal[currency] {
		whole, frac = minor/100, minor%100
	}
	s := strconv.FormatInt(whole, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if frac >= 0 {
		out += fmt.Sprintf(",%02d", frac)
	}
	if neg {
		out = "-" + out
	}
	if currency == "VND" {
		return out + " ₫"
	}
	return out + " " + currency
}
