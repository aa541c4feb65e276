package audit

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

type detailsStatus string

// detailsJSON writes exactly what encoding/json writes for the redacted
// details: the stored text is what the chain's hash covers, so the faster
// encoder must not change a byte of it.
func TestDetailsJSONMatchesEncodingJSON(t *testing.T) {
	cases := []struct {
		name string
		d    map[string]any
	}{
		{"scalars", map[string]any{"amount": float64(1500000), "api": "PG", "ok": true, "none": nil, "n": 42, "big": int64(-7)}},
		{"key order", map[string]any{"b": 1, "a": 2, "B": 3, "_": 4, "aa": 5, "a b": 6}},
		{"floats", map[string]any{"f": 1.5, "neg zero": math.Copysign(0, -1), "zero": 0.0, "huge": 1e21, "large": 1e15, "tiny": 1e-7, "int-like": -123456789012.0}},
		{"strings needing escapes", map[string]any{"html": "<b>&</b>", "quote": `say "hi" \ bye`, "ctl": "a\tb\nc\x01", "vi": "Hoàn tiền", "bad utf8": "a\xffb", "sep": "x\u2028y", "key <&>": "v"}},
		{"secrets", map[string]any{"password": "hunter2", "API_Token": "abc", "nested": map[string]any{"Signature": "s", "fine": "yes"}, "Bank_Account_Token": "x"}},
		{"accounts", map[string]any{"receiver_account_number": "0123456789", "card_number": 4111111111111111, "iban": []any{"DE89370400440532013000", 7}, "bankAccount": map[string]any{"no": "9704 0000 1234"}}},
		{"nested lists and maps", map[string]any{"items": []any{"a", 1.0, map[string]any{"z": "1", "a": []string{"x", "<y>"}}}, "tags": []string{"p", "q"}, "m": map[string]string{"k2": "v2", "k1": "v1"}}},
		{"other types", map[string]any{"at": time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC), "status": detailsStatus("SENT"), "ints": []int{1, 2}, "struct": struct {
			A int    `json:"a"`
			B string `json:"b"`
		}{1, "<"}, "raw": json.RawMessage(`{"x": 1}`), "u8": uint8(3), "f32": float32(0.1)}},
		{"empty containers", map[string]any{"m": map[string]any{}, "l": []any{}, "nil list": []string(nil), "s": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := json.Marshal(redact(c.d, ""))
			if err != nil {
				t.Fatal(err)
			}
			got, err := detailsJSON(c.d)
			if err != nil || got != string(want) {
				t.Errorf("detailsJSON =\n%s, %v\nwant\n%s", got, err, want)
			}
		})
	}
	if got, err := detailsJSON(nil); got != "{}" || err != nil {
		t.Errorf("no details = %q, %v; want {}", got, err)
	}
	if _, err := detailsJSON(map[string]any{"nan": math.NaN()}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NaN: err = %v, want ErrInvalid", err)
	}
}
