package neox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// flatValue is one top-level value of a JSON object as signatures see it.
type flatValue struct {
	text     string // decoded string, or the raw JSON text of anything else; "" for null
	isString bool
}

// flatObject is a top-level JSON object keyed by field name.
type flatObject map[string]flatValue

// parseFlat reads a single JSON object and keeps, for each key, the value
// as it appears in the text. Duplicate keys, trailing data and non-object
// input are rejected with ErrMalformed: a signature must cover exactly the
// values the receiver acts on.
func parseFlat(body []byte) (flatObject, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	obj := flatObject{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: object key is not a string", ErrMalformed)
		}
		if _, dup := obj[key]; dup {
			return nil, fmt.Errorf("%w: duplicate key %q", ErrMalformed, key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: value of %q: %v", ErrMalformed, key, err)
		}
		v, err := flatValueOf(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: value of %q: %v", ErrMalformed, key, err)
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after object", ErrMalformed)
	}
	return obj, nil
}

func flatValueOf(raw json.RawMessage) (flatValue, error) {
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return flatValue{}, err
		}
		return flatValue{text: s, isString: true}, nil
	case string(raw) == "null":
		return flatValue{}, nil
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return flatValue{}, err
		}
		return flatValue{text: buf.String()}, nil
	}
}

// texts returns every field's text, keyed by name.
func (o flatObject) texts() map[string]string {
	m := make(map[string]string, len(o))
	for k, v := range o {
		m[k] = v.text
	}
	return m
}

// str returns the text of key ("" when absent).
func (o flatObject) str(key string) string { return o[key].text }

// int64Of parses key as an integer given as a JSON number or string.
// Absent or empty is 0.
func (o flatObject) int64Of(key string) (int64, error) {
	t := strings.TrimSpace(o[key].text)
	if t == "" {
		return 0, nil
	}
	n, err := parseIntAmount(t)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	return n, nil
}

// parseIntAmount accepts "10000", "10000.0", "10000.00" (VND-style amounts
// sometimes carry a zero fraction) but never a non-zero fraction.
func parseIntAmount(t string) (int64, error) {
	if i := strings.IndexByte(t, '.'); i >= 0 {
		if strings.Trim(t[i+1:], "0") != "" {
			return 0, fmt.Errorf("amount %q has a fraction", t)
		}
		t = t[:i]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is not an integer", t)
	}
	return n, nil
}

// flexInt is an integer that may arrive as a JSON number or string.
type flexInt int64

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	v, err := flatValueOf(b)
	if err != nil {
		return err
	}
	if strings.TrimSpace(v.text) == "" {
		*f = 0
		return nil
	}
	n, err := parseIntAmount(strings.TrimSpace(v.text))
	if err != nil {
		return err
	}
	*f = flexInt(n)
	return nil
}

// flexText is a scalar that may arrive as a JSON number or string, kept as
// its text ("1500.00" stays "1500.00").
type flexText string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexText) UnmarshalJSON(b []byte) error {
	v, err := flatValueOf(b)
	if err != nil {
		return err
	}
	*f = flexText(v.text)
	return nil
}
