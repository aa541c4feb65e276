package audit

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// detailsJSON redacts d and encodes it as json.Marshal(redact(d, "")) would,
// byte for byte: keys sorted, HTML characters escaped. No details encode
// as "{}".
//
// It walks d once, redacting as it writes, instead of copying every map
// (redact) and encoding the copy by reflection (json.Marshal): that was
// about a tenth of an append's CPU. The common values (strings of plain
// ASCII, integers, booleans, nested maps and lists) are written directly;
// any other value, and any string that needs escaping, goes through
// encoding/json, so the text never differs from what it would produce
// (TestDetailsJSONMatchesEncodingJSON).
func detailsJSON(d map[string]any) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	e := detailsEncoder{buf: make([]byte, 0, 256)}
	if err := e.object(len(d), func(yield func(string, any) bool) {
		for k, v := range d {
			if !yield(k, v) {
				return
			}
		}
	}); err != nil {
		return "", fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	return string(e.buf), nil
}

type detailsEncoder struct{ buf []byte }

// value writes v, found under key, redacted as redact(v, key) would.
func (e *detailsEncoder) value(v any, key string) error {
	switch {
	case key != "" && keyHas(key, secretKeyParts):
		e.buf = strconv.AppendQuote(e.buf, Redacted) // plain ASCII: the same as encoding/json
		return nil
	case key != "" && keyHas(key, accountKeyParts):
		return e.fallback(maskAll(v))
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.string(x)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, x, 10)
	case float64:
		// encoding/json writes integral floats below 1e21 as integers
		// (and -0 as "-0", hence x != 0).
		if x != 0 && x == math.Trunc(x) && math.Abs(x) < 1e15 {
			e.buf = strconv.AppendInt(e.buf, int64(x), 10)
			return nil
		}
		return e.fallback(x)
	case map[string]any:
		return e.object(len(x), func(yield func(string, any) bool) {
			for k, v := range x {
				if !yield(k, v) {
					return
				}
			}
		})
	case map[string]string:
		return e.object(len(x), func(yield func(string, any) bool) {
			for k, v := range x {
				if !yield(k, v) {
					return
				}
			}
		})
	case []any:
		return e.list(len(x), func(i int) any { return x[i] }, key)
	case []string:
		return e.list(len(x), func(i int) any { return x[i] }, key)
	default:
		return e.fallback(v)
	}
	return nil
}

// object writes a map's n entries in key order, each value redacted under
// its own key.
func (e *detailsEncoder) object(n int, entries func(yield func(string, any) bool)) error {
	type entry struct {
		k string
		v any
	}
	es := make([]entry, 0, n)
	for k, v := range entries {
		es = append(es, entry{k, v})
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.k < b.k:
			return -1
		case a.k > b.k:
			return 1
		}
		return 0
	})
	e.buf = append(e.buf, '{')
	for i, en := range es {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.string(en.k)
		e.buf = append(e.buf, ':')
		if err := e.value(en.v, en.k); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// list writes n elements, each redacted under the list's key (as redact does).
func (e *detailsEncoder) list(n int, at func(int) any, key string) error {
	e.buf = append(e.buf, '[')
	for i := range n {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(at(i), key); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

// string writes s quoted: directly when it is printable ASCII that
// encoding/json leaves alone, through encoding/json otherwise.
func (e *detailsEncoder) string(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			e.buf = append(e.buf, b...)
			return
		}
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, '"')
}

// fallback writes v as encoding/json does. v is already redacted: redact
// leaves every type but the maps and lists value walks as it is.
func (e *detailsEncoder) fallback(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e.buf = append(e.buf, b...)
	return nil
}
