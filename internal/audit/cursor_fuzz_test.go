package audit

import "testing"

// FuzzParseCursor: page links come from the query string; any value either
// fails with ErrBadCursor or round-trips through Encode.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "b12", "a1", "b0", "a-1", "x12", "b", "b99999999999999999999", "b+1", "b 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		if c.BeforeSeq < 0 || c.AfterSeq < 0 || (c.BeforeSeq > 0 && c.AfterSeq > 0) {
			t.Fatalf("ParseCursor(%q) = %+v", s, c)
		}
		c2, err := ParseCursor(c.Encode())
		if err != nil || c2 != c {
			t.Fatalf("round trip of %q: %+v → %q → %+v, %v", s, c, c.Encode(), c2, err)
		}
	})
}

// FuzzParseAnchor: the verify anchor is typed by an operator; any value
// either fails or round-trips through String.
func FuzzParseAnchor(f *testing.F) {
	f.Add("")
	f.Add("12:" + GenesisHash)
	f.Add("0:" + GenesisHash)
	f.Add("-1:abc")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAnchor(s)
		if err != nil || a == (Anchor{}) {
			return
		}
		if a.Seq <= 0 || len(a.PrevHash) != 64 {
			t.Fatalf("ParseAnchor(%q) = %+v", s, a)
		}
		b, err := ParseAnchor(a.String())
		if err != nil || b != a {
			t.Fatalf("round trip of %q: %+v, %v", s, b, err)
		}
	})
}
