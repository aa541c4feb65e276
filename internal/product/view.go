package product

import "time"

// What a product shows and asks for on the desk's pages, as plain data:
// the templates render it without knowing the product (labels are
// message keys, translated by the desk).

// Line is one value a lookup page shows of a target: a label and a value
// of one Kind.
type Line struct {
	Label    string    // message key
	Kind     LineKind  `json:",omitempty"`
	Text     string    `json:",omitempty"` // KindText, KindMono, KindCode
	Amount   int64     `json:",omitempty"` // KindMoney, minor units of Currency
	Currency string    `json:",omitempty"`
	At       time.Time `json:",omitzero"`  // KindTime
	Hint     string    `json:",omitempty"` // message key of a note beside the value
	TestID   string    `json:",omitempty"` // the page's data-testid for the value
}

// LineKind says how a Line's value reads.
type LineKind string

// Line kinds.
const (
	KindText  LineKind = ""      // words as NeoX sent them
	KindMono  LineKind = "mono"  // an identifier
	KindCode  LineKind = "code"  // a status code NeoX sent, shown verbatim
	KindMoney LineKind = "money" // Amount in Currency
	KindTime  LineKind = "time"  // At
)

// Text is a Line of words.
func Text(label, text string) Line { return Line{Label: label, Text: text} }

// Money is a Line of an amount.
func Money(label string, amount int64, currency string) Line {
	return Line{Label: label, Kind: KindMoney, Amount: amount, Currency: currency}
}

// Tested is l with the page's data-testid id.
func (l Line) Tested(id string) Line { l.TestID = id; return l }

// Kinded is l read as kind k.
func (l Line) Kinded(k LineKind) Line { l.Kind = k; return l }

// Hinted is l with a note (a message key) beside the value.
func (l Line) Hinted(key string) Line { l.Hint = key; return l }

// Found is one target a lookup found, with what the lookup page shows of
// it.
type Found struct {
	// ID names the target within the reference where a reference holds
	// several (PG's payments): the request form carries it as "payment",
	// and the page lists such targets as rows of a table. "" where the
	// reference itself is the target.
	ID string
	// Status is NeoX's status of the target, as sent.
	Status string
	Target Target
	// Lines are shown before the desk's figures (in flight here,
	// refundable), After after them.
	Lines, After []Line
	// NotRefundable is the message key of the sentence shown when nothing
	// can be refunded; "" for the common one.
	NotRefundable string
}

// Form is what the request form asks for a product's target, besides the
// reason every refund needs.
type Form struct {
	// Note is the message key of a sentence above the fields ("" none).
	Note   string
	Fields []Field
	// Group is a set of fields under a legend (the receiver's bank
	// account), or nil.
	Group *Group
}

// Group is a fieldset of a form.
type Group struct {
	Legend string // message key
	Fields []Field
}

// Field is one control of a form. Name is the field's name as posted,
// and the key its errors come back under (product.Request's fields:
// amount, fee_charge_way, sub_merchant_id, bank_account_name,
// bank_account_number, bank_swift, bank_branch).
type Field struct {
	Name  string
	ID    string // the control's id; Name when ""
	Label string // message key
	Hint  string // message key of a hint under the control ("" none)
	// Kind: KindInput (text), KindNumeric (digits typed, shown grouped)
	// or KindSelect (one of Choices).
	Kind        FieldKind
	Required    bool
	MaxLen      int
	Placeholder string
	Choices     []Choice
	// Default is the value the form opens with.
	Default string
	// Private: the browser should not offer to remember it.
	Private bool
	// Bad is the message key shown when a lookup field's value is not a
	// NeoX reference.
	Bad    string
	TestID string
}

// FieldKind is how a Field is typed.
type FieldKind string

// Field kinds.
const (
	KindInput   FieldKind = ""
	KindNumeric FieldKind = "numeric"
	KindSelect  FieldKind = "select"
)

// Choice is one value of a KindSelect field; Label is a message key.
type Choice struct{ Value, Label string }

// ControlID is the id of f's control.
func (f Field) ControlID() string {
	if f.ID != "" {
		return f.ID
	}
	return f.Name
}

// Names lists the names of every field of the form, in order.
func (f Form) Names() []string {
	var out []string
	for _, fl := range f.All() {
		out = append(out, fl.Name)
	}
	return out
}

// All lists every field of the form, in order (the group's last).
func (f Form) All() []Field {
	out := append([]Field(nil), f.Fields...)
	if f.Group != nil {
		out = append(out, f.Group.Fields...)
	}
	return out
}

// Has reports whether the form has a field named name.
func (f Form) Has(name string) bool {
	for _, fl := range f.All() {
		if fl.Name == name {
			return true
		}
	}
	return false
}

// AmountField is the amount a refund is for, typed in đồng.
var AmountField = Field{Name: "amount", Label: "rf.amount", Hint: "rf.amount_hint", Kind: KindNumeric, Required: true,
	MaxLen: 24, Placeholder: "1.250.000", TestID: "amount"}

// BankFields are the receiver's bank account fields.
var BankFields = []Field{
	{Name: "bank_account_name", Label: "rf.account_name", MaxLen: 100},
	{Name: "bank_account_number", Label: "rf.account_number", Kind: KindNumeric, MaxLen: 34, Private: true},
	{Name: "bank_swift", Label: "rf.swift", MaxLen: 11, Placeholder: "ASCBVNVX"},
}

// SubMerchantField is the sub-merchant an order belongs to, on the lookup
// form.
var SubMerchantField = Field{Name: "sub_merchant_id", Label: "tx.sub_merchant", Hint: "tx.sub_merchant_hint", MaxLen: 64,
	Private: true, TestID: "lookup-sub-merchant", Bad: "tx.bad_sub"}

// Looked is the Found of a product whose reference is its one target,
// with the common lines (the amount, and what NeoX says was refunded):
// what a product without a view of its own shows.
func Looked(t Target) Found {
	paid, refunded := t.Amounts()
	return Found{Target: t, Lines: []Line{
		Money("tx.amount", paid, t.Currency()).Tested("order-amount"),
		Money("tx.refunded", refunded, t.Currency()),
	}}
}
