package handlers

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.0.2.10/32")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies configured: header ignored", "198.51.100.7:5000", []string{"203.0.113.1"}, nil, "198.51.100.7"},
		{"peer not a trusted proxy: spoofed header ignored", "198.51.100.7:5000", []string{"203.0.113.1"}, proxies, "198.51.100.7"},
		{"trusted proxy, one hop", "10.1.2.3:443", []string{"203.0.113.1"}, proxies, "203.0.113.1"},
		{"client-written entries left of the real one are not believed", "10.1.2.3:443", []string{"1.2.3.4, 203.0.113.1"}, proxies, "203.0.113.1"},
		{"chain of trusted proxies is skipped from the right", "10.1.2.3:443", []string{"6.6.6.6, 203.0.113.1, 192.0.2.10, 10.9.9.9"}, proxies, "203.0.113.1"},
		{"several headers are one list", "10.1.2.3:443", []string{"6.6.6.6", "203.0.113.1"}, proxies, "203.0.113.1"},
		{"IPv6 client through an IPv6 proxy", "[fd00::1]:443", []string{"2001:db8::5"}, proxies, "2001:db8::5"},
		{"IPv4-mapped client is unmapped", "10.1.2.3:443", []string{"::ffff:203.0.113.9"}, proxies, "203.0.113.9"},
		{"trusted proxy without a header", "10.1.2.3:443", nil, proxies, "10.1.2.3"},
		{"garbage hop: the peer is all we know", "10.1.2.3:443", []string{"203.0.113.1, not-an-ip"}, proxies, "10.1.2.3"},
		{"only trusted hops", "10.1.2.3:443", []string{"10.4.4.4"}, proxies, "10.1.2.3"},
		{"port in the header is not an address", "10.1.2.3:443", []string{"203.0.113.1:999"}, proxies, "10.1.2.3"},
		{"remote without a port", "198.51.100.7", []string{"203.0.113.1"}, proxies, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientAddr(tt.remote, tt.xff, tt.trusted); got != tt.want {
				t.Fatalf("clientAddr(%q, %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

// Over real HTTP: the audit row and the throttle use the forwarded address
// only when the peer is a trusted proxy.
func TestTrustedProxiesDecideTheAuditedAddress(t *testing.T) {
	lastIP := func(e *env) string {
		var ip string
		if err := e.db.Read.QueryRow(`SELECT client_ip FROM audit_events WHERE action = 'auth.login_failed' ORDER BY seq DESC LIMIT 1`).Scan(&ip); err != nil {
			t.Fatal(err)
		}
		return ip
	}
	wrong := url.Values{"username": {"carol"}, "password": {"wrong password!"}}
	spoof := map[string]string{"X-Forwarded-For": "203.0.113.77"}

	plain := newEnv(t)
	plain.user("carol", "staff")
	plain.do(plain.client(), http.MethodPost, "/login", wrong, spoof)
	if got := lastIP(plain); got != "127.0.0.1" {
		t.Fatalf("without TRUSTED_PROXIES the audited address is %q, want the peer 127.0.0.1", got)
	}

	proxied := newEnv(t, func(d *Deps) { d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	proxied.user("carol", "staff")
	proxied.do(proxied.client(), http.MethodPost, "/login", wrong, spoof)
	if got := lastIP(proxied); got != "203.0.113.77" {
		t.Fatalf("behind a trusted proxy the audited address is %q, want 203.0.113.77", got)
	}
	// Per-address throttling tells the clients behind the proxy apart: 20
	// failures from one (spread over accounts) do not slow another down.
	for i := range 21 {
		proxied.do(proxied.client(), http.MethodPost, "/login",
			url.Values{"username": {"u" + itoa(int64(i))}, "password": {"x"}}, map[string]string{"X-Forwarded-For": "203.0.113.66"})
	}
	r := proxied.do(proxied.client(), http.MethodPost, "/login", url.Values{"username": {"carol"}, "password": {testPassword}},
		map[string]string{"X-Forwarded-For": "203.0.113.5"})
	if r.status != http.StatusSeeOther {
		t.Fatalf("a client behind the proxy was throttled for another's failures: %d", r.status)
	}
}
