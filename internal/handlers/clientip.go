package handlers

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the client address of r, the one function every reader of
// it uses (the audit origin, sessions, login throttling, the access log).
//
// It is the TCP peer, unless the peer is one of the trusted proxies
// (TRUSTED_PROXIES): then X-Forwarded-For is read from the right, skipping
// addresses that are themselves trusted proxies, and the first other one
// is the client. Everything left of it was written by the client and is
// not believed. A request from anywhere else has its X-Forwarded-For
// ignored, so nobody can choose the address they are throttled and
// audited under. A header that yields no valid address falls back to the
// peer.
func (s *Server) clientIP(r *http.Request) string {
	return clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.proxies)
}

func clientAddr(remote string, xff []string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	// Several X-Forwarded-For headers are one list, in order.
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// A hop we cannot read: nothing left of it can be trusted
			// either, and the peer (a trusted proxy) is all we know.
			return host
		}
		if !isTrusted(a, trusted) {
			return a.Unmap().String()
		}
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap().WithZone("")
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
