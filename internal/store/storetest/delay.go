package storetest

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Delayed returns a PostgreSQL URL for u whose connections go through a
// proxy on loopback that holds every chunk of bytes for oneWay in each
// direction, so a round trip takes 2×oneWay longer: the database as a
// managed server a network away, for benchmarks on one machine. u must
// name a Unix socket directory (host=/dir), as the test clusters do. The
// proxy stops at the end of t.
func Delayed(t testing.TB, u string, oneWay time.Duration) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("Delayed: %v", err)
	}
	q := p.Query()
	dir := q.Get("host")
	if !filepath.IsAbs(dir) {
		t.Fatalf("Delayed: %s names no Unix socket directory (host=/dir)", u)
	}
	port := q.Get("port")
	if port == "" {
		port = "5432"
	}
	socket := filepath.Join(dir, ".s.PGSQL."+port)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Delayed: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("unix", socket)
			if err != nil {
				c.Close()
				continue
			}
			wg.Go(func() { delayCopy(s, c, oneWay) })
			wg.Go(func() { delayCopy(c, s, oneWay) })
		}
	})
	q.Set("host", "127.0.0.1")
	q.Set("port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	q.Set("sslmode", "disable")
	p.RawQuery = q.Encode()
	return p.String()
}

// delayCopy copies src to dst, each chunk oneWay after it was read, in
// order; it closes both when either side ends.
func delayCopy(dst, src net.Conn, oneWay time.Duration) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 256)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(oneWay)}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		src.Close()
		dst.Close()
		for range ch { // let the reader end
		}
	}()
	for c := range ch {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}
