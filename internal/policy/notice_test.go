package policy

import (
	"slices"
	"testing"
)

// Who hears of what, as a person reads it.
func TestAudience(t *testing.T) {
	var p Policy
	want := map[string]struct {
		roles     []Role
		requester bool
		hears     []Role
	}{
		NoticeRequested: {[]Role{Manager}, false, []Role{Manager}},
		NoticeReminder:  {[]Role{Manager}, false, []Role{Manager}},
		NoticeDecided:   {nil, true, []Role{Staff, Manager}},
		NoticeOutcome:   {nil, true, []Role{Staff, Manager}},
		NoticeAttention: {[]Role{Manager, Admin}, false, []Role{Manager, Admin}},
		NoticeOutage:    {[]Role{Admin}, false, []Role{Admin}},
		"bogus":         {nil, false, nil},
	}
	for notice, w := range want {
		roles, req := p.Audience(notice)
		if !slices.Equal(roles, w.roles) || req != w.requester {
			t.Errorf("Audience(%s) = %v, %v; want %v, %v", notice, roles, req, w.roles, w.requester)
		}
		for _, r := range append(Roles(), "") {
			if got := p.Hears(r, notice); got != slices.Contains(w.hears, r) {
				t.Errorf("Hears(%q, %s) = %v", r, notice, got)
			}
		}
	}
}
