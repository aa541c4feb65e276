// Package notifytest holds what tests of notifications share: an SMTP
// server on loopback (github.com/emersion/go-smtp) that keeps what it
// receives, and a reader of the messages.
package notifytest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPSink is an SMTP server on loopback keeping what it receives.
type SMTPSink struct {
	mu   sync.Mutex
	msgs []Message
	more chan struct{} // closed and replaced at each message
	// Addr is where it listens (127.0.0.1, a free port).
	Addr *net.TCPAddr
}

// Message is one message the sink received.
type Message struct {
	From string
	To   []string
	Data []byte
}

// NewSMTPSink starts a sink, closed when the test ends.
func NewSMTPSink(t *testing.T) *SMTPSink {
	t.Helper()
	s := &SMTPSink{more: make(chan struct{})}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().(*net.TCPAddr)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

// NewSession is go-smtp's Backend.
func (s *SMTPSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{sink: s}, nil }

// All returns the messages received so far.
func (s *SMTPSink) All() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

type session struct {
	sink *SMTPSink
	cur  Message
}

func (s *session) Reset()        { s.cur = Message{} }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.From = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = b
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, s.cur)
	close(s.sink.more)
	s.sink.more = make(chan struct{})
	s.sink.mu.Unlock()
	return nil
}

// Decode reads a received message's subject and text body.
func Decode(t *testing.T, raw []byte) (string, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(m.Body)
	case "base64":
		t.Fatal("unexpected base64 body")
	}
	b, err := io.ReadAll(body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return subject, string(b)
}

// WaitFor returns the first message to that matches, waiting for it as
// messages arrive, and fails the test after timeout.
func (s *SMTPSink) WaitFor(t *testing.T, to string, match func(subject, body string) bool, timeout time.Duration) (string, string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		msgs, more := append([]Message(nil), s.msgs...), s.more
		s.mu.Unlock()
		for _, m := range msgs {
			if strings.Join(m.To, ",") != to {
				continue
			}
			if subject, body := Decode(t, m.Data); match(subject, body) {
				return subject, body
			}
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("no matching email to %s within %s (%d received)", to, timeout, len(msgs))
		}
	}
}
