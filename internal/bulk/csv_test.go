package bulk

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
)

const header = "product,reference,payment_id,amount,currency,reason_code,reason_text\n"

func msgKey(err error) string {
	var m fault.Msg
	if errors.As(err, &m) {
		return m.Key
	}
	return ""
}

// TestParseFile: files refused as a whole, with the reason's key.
func TestParseFile(t *testing.T) {
	many := strings.Builder{}
	many.WriteString(header)
	for i := 0; i <= MaxRows; i++ {
		fmt.Fprintf(&many, "PG,T%d,P,1000,VND,customer_request,\n", i)
	}
	huge := header + "PG,T,P,1000,VND,x," + strings.Repeat("a", MaxBytes) + "\n"
	tests := []struct {
		name, in, key string
	}{
		{"empty", "", "bulk.err_empty"},
		{"header only", header, "bulk.err_empty"},
		{"garbage bytes", "\xff\xfe\x00\x01garbage", "bulk.err_not_utf8"},
		{"binary after a header", header + "PG,\x80\x81,P,1,VND,x,y\n", "bulk.err_not_utf8"},
		{"no header", "PG,240901101500HCMCAF,1440001,1000,VND,customer_request,x\n", "bulk.err_unknown_column"},
		{"missing column", "product,reference,payment_id,amount,currency,reason_code\nPG,a,b,1,VND,x\n", "bulk.err_missing_columns"},
		{"column twice", "product,reference,payment_id,amount,currency,reason_code,reason_text,amount\n", "bulk.err_column_twice"},
		{"unknown column", strings.TrimSuffix(header, "\n") + ",evil\nPG,a,b,1,VND,x,y,z\n", "bulk.err_unknown_column"},
		{"bare quote", header + "PG,a\"b,c,1,VND,x,y\n", "bulk.err_csv"},
		{"unterminated quote", header + "PG,\"abc,c,1,VND,x,y\n", "bulk.err_csv"},
		{"too many rows", many.String(), "bulk.err_too_many"},
		{"over 5 MiB", huge, "bulk.err_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := Parse(strings.NewReader(tt.in))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %d rows, %v; want a *FileError", len(rows), err)
			}
			if fe.Msg.Key != tt.key {
				t.Fatalf("key %q (%v), want %q", fe.Msg.Key, err, tt.key)
			}
		})
	}
}

// TestParseRows: what each row becomes, errors with their line.
func TestParseRows(t *testing.T) {
	in := "\xef\xbb\xbf" + "Product , REFERENCE,payment_id,amount,currency,reason_code,reason_text,bank_swift\n" +
		"pg,240901101500HCMCAF,1440001,100.000,vnd,customer_request,ok,\n" + // line 2: fine
		"PG,240901101500HCMCAF,1440001,5000,VND,customer_request,again,\n" + // 3: duplicate of 2
		"PG,T1,P1,1.5,VND,customer_request,,\n" + // 4: decimals
		"PG,T2,P2,-5000,VND,customer_request,,\n" + // 5: negative
		"PG,T3,P3,1e6,VND,customer_request,,\n" + // 6: float notation
		"PG,T4,P4,12,VND\n" + // 7: short
		"\n" + // 8: blank, skipped
		"PG,T5,P5,1000,VND,customer_request," + strings.Repeat("x", maxField+1) + ",\n" + // 9: huge field
		"GC,CO-1,,,USD,customer_request,\"multi\nline\",\n" + // 10-11: GC, no amount
		"COL,=cmd|' /C calc'!A0,,1000,VND,OTHER,\"=HYPERLINK(\"\"x\"\")\",\n" // 12: formula text is data here
	rows, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line   int
		key    string
		amount int64
	}{{2, "", 100000}, {3, "bulk.err_duplicate", 5000}, {4, "domain.09", 0}, {5, "domain.02", 0}, {6, "domain.05", 0},
		{7, "bulk.err_width", 0}, {9, "bulk.err_field_long", 0}, {10, "", 0}, {12, "", 1000}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.Line != w.line || msgKey(r.Err) != w.key || r.Amount != w.amount {
			t.Errorf("row %d: line %d err %v amount %d; want line %d key %q amount %d", i, r.Line, r.Err, r.Amount, w.line, w.key, w.amount)
		}
	}
	if rows[0].API != "PG" || rows[0].Currency != "VND" || rows[1].DuplicateOf != 2 {
		t.Errorf("normalisation: %+v %+v", rows[0], rows[1])
	}
	if rows[7].ReasonText != "multi\nline" || rows[7].API != "GC" {
		t.Errorf("quoted multi-line field: %+v", rows[7])
	}
}

// TestParseSpreadsheetLeftovers: an empty trailing header cell and rows
// of empty cells, as spreadsheets write them, are ignored.
func TestParseSpreadsheetLeftovers(t *testing.T) {
	in := "product,reference,payment_id,amount,currency,reason_code,reason_text,\r\n" +
		"PG,T1,P1,1000,VND,customer_request,x,\r\n" +
		",,,,,,,\r\n"
	rows, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Err != nil || rows[0].Amount != 1000 {
		t.Fatalf("rows = %+v", rows)
	}
}

// TestParseSemicolons: Excel under a Vietnamese locale writes semicolons.
func TestParseSemicolons(t *testing.T) {
	in := "product;reference;payment_id;amount;currency;reason_code;reason_text\n" +
		"PG;T1;P1;1.250.000;VND;customer_request;a, b\n"
	rows, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Err != nil || rows[0].Amount != 1_250_000 || rows[0].ReasonText != "a, b" {
		t.Fatalf("rows = %+v", rows)
	}
}

// TestResultsNeutraliseFormulas: a cell a spreadsheet would run gets an
// apostrophe; the file stays one line per row.
func TestResultsNeutraliseFormulas(t *testing.T) {
	b := Batch{Lines: []Line{
		{RowNo: 2, API: "PG", TransactionRef: "=cmd|' /C calc'!A0", PaymentID: "+1", AmountText: "-5", Currency: "@x", Status: StatusError, Message: "\tTab"},
		{RowNo: 3, API: "PG", TransactionRef: "T", PaymentID: "P", Amount: 1000, Currency: "VND", Status: StatusCreated, RefundID: "id-1"},
	}}
	var buf bytes.Buffer
	if err := WriteResults(&buf, b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want header + 2", len(recs))
	}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q is a live formula", cell)
			}
		}
	}
	if recs[1][2] != "'=cmd|' /C calc'!A0" || recs[2][4] != "1000" || recs[2][8] != "id-1" {
		t.Errorf("results: %q", recs)
	}
}

// FuzzParse: no input makes Parse panic, and rows stay within limits.
func FuzzParse(f *testing.F) {
	f.Add(header + "PG,a,b,1,VND,x,y\n")
	f.Add("\"")
	f.Add(header + "\"a\"\"b\",,,,,,\n")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := Parse(strings.NewReader(s))
		if err == nil && (len(rows) == 0 || len(rows) > MaxRows) {
			t.Fatalf("%d rows without error", len(rows))
		}
	})
}
