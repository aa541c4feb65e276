package fault

import (
	"errors"
	"fmt"
	"testing"
)

type fieldsErr struct{ f Fields }

func (e *fieldsErr) Error() string         { return "invalid: " + e.f.Summary() }
func (e *fieldsErr) Kind() Kind            { return Invalid }
func (e *fieldsErr) FieldMessages() Fields { return e.f }

func TestKindOf(t *testing.T) {
	errGone := New(NotFound, "gone")
	for _, tt := range []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, Internal},
		{"plain", errors.New("disk full"), Internal},
		{"sentinel", errGone, NotFound},
		{"wrapped sentinel", fmt.Errorf("refunds: %w", errGone), NotFound},
		{"message", M("domain.01", "enter an amount"), Invalid},
		{"fields", fmt.Errorf("x: %w", &fieldsErr{Fields{"a": M("k", "bad")}}), Invalid},
	} {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("%s: KindOf = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !errors.Is(fmt.Errorf("w: %w", errGone), errGone) || errors.Is(New(NotFound, "gone"), errGone) {
		t.Error("sentinels must match by identity")
	}
}

func TestMsg(t *testing.T) {
	m := M("domain.47", "at most %s can be refunded", "5 ₫")
	if m.String() != "at most 5 ₫ can be refunded" || m.Error() != m.String() {
		t.Errorf("String = %q", m.String())
	}
	if !(Msg{}).IsZero() || m.IsZero() {
		t.Error("IsZero")
	}
	f, ok := FieldsOf(fmt.Errorf("w: %w", &fieldsErr{Fields{"b": M("k2", "two"), "a": M("k1", "one")}}))
	if !ok || f.Summary() != "a: one; b: two" {
		t.Errorf("FieldsOf = %v, %v", f, ok)
	}
}
