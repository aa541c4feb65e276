package sandbox

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
)

// The documented data objects of the two lookups (docs.neox.vn, as
// collected in neox-notes.md "Lookups"), written out by hand: key → JSON
// type ("number", "string", "object"). The sandbox must answer exactly
// these keys with these types, so a client that reads a made-up name or
// the wrong type fails against it.
var (
	docGCOrderFields = map[string]string{
		"requestId": "string", "orderId": "string", "merchantId": "string",
		"amount": "number", "payAmount": "number", "currency": "string", "payCurrency": "string",
		"orderType": "string", "status": "string", "recBankCode": "string",
	}
	docCOLTransactionFields = map[string]string{
		"merchantCode": "string", "transId": "string", "transDate": "string",
		"virtualAccountRequestId": "string", "virtualAccountId": "string", "accountName": "string",
		"amount": "string", "fee": "string", "refundedAmount": "string", "status": "string",
		"reconcileStatus": "string", "payoutStatus": "string",
		"serviceInfomation": "object", "debitorInformation": "object", "Note": "string",
		"createdAt": "string", "updatedAt": "string",
	}
	docGCStatuses        = []string{"WAIT_MATCH", "MATCHED", "REJ_WAIT_MATCH", "PENDING", "SUCCESS", "CANCEL", "REFUND_PROCESS", "REFUND_SUCCESS"}
	docGCOrderTypes      = []string{"RECHARGE", "TRADE_COLLECTION", "PLATFORM_COLLECTION"}
	docReconcileStatuses = []string{"WAITING_UPLOAD", "UPLOADED", "APPROVED", "REJECTED", "RECONCILED", "SETTLED"}
	docPayoutStatuses    = []string{"READY", "PROCESSING", "REJECTED", "SUCCESS"}
)

func jsonType(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "?"
}

// rawGet calls a GC/COL GET endpoint of the sandbox over HTTP, with a token
// of its own, and returns the envelope's data decoded generically.
func rawGet(t *testing.T, s *Sandbox, clientID, secret, scope, path string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": clientID,
		"client_secret": secret, "scope": scope})
	resp, err := http.Post(s.URL()+"/v2/auth/oauth2/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Data.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok.Data.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var env struct {
		Code json.Number    `json:"code"`
		Data map[string]any `json:"data"`
	}
	if err := dec.Decode(&env); err != nil || env.Code != "1" {
		t.Fatalf("GET %s: code %s, %v", path, env.Code, err)
	}
	return env.Data
}

func assertShape(t *testing.T, what string, data map[string]any, doc map[string]string) {
	t.Helper()
	got, want := slices.Sorted(maps.Keys(data)), slices.Sorted(maps.Keys(doc))
	if !slices.Equal(got, want) {
		t.Errorf("%s keys = %v, want the documented %v", what, got, want)
	}
	for k, typ := range doc {
		if v, ok := data[k]; ok && jsonType(v) != typ {
			t.Errorf("%s: %s is a JSON %s (%v), documented as %s", what, k, jsonType(v), v, typ)
		}
	}
}

// TestLookupShapesAreDocumented checks every seeded GC order and COL
// transaction against the documented field lists and value sets.
func TestLookupShapesAreDocumented(t *testing.T) {
	s := start(t, testConfig())
	for _, seed := range s.SeedIDs() {
		switch seed.API {
		case "GC":
			path := "/v2/gc/collection-orders/" + seed.ID
			s.mu.Lock()
			if sub := s.st.gcOrders[seed.ID].SubMerchantID; sub != "" {
				path += "?subMerchantId=" + sub
			}
			s.mu.Unlock()
			d := rawGet(t, s, "gc-client", "gc-secret", "global-collection", path)
			assertShape(t, "GC "+seed.ID, d, docGCOrderFields)
			if d["orderId"] != seed.ID {
				t.Errorf("GC %s: orderId = %v", seed.ID, d["orderId"])
			}
			if st, _ := d["status"].(string); !slices.Contains(docGCStatuses, st) {
				t.Errorf("GC %s: status %q is not a documented value", seed.ID, st)
			}
			if ot, _ := d["orderType"].(string); !slices.Contains(docGCOrderTypes, ot) {
				t.Errorf("GC %s: orderType %q is not a documented value", seed.ID, ot)
			}
		case "COL":
			d := rawGet(t, s, "col-client", "col-secret", "collection", "/v2/col/transactions/"+seed.ID)
			assertShape(t, "COL "+seed.ID, d, docCOLTransactionFields)
			if d["transId"] != seed.ID {
				t.Errorf("COL %s: transId = %v", seed.ID, d["transId"])
			}
			if rs, _ := d["reconcileStatus"].(string); !slices.Contains(docReconcileStatuses, rs) {
				t.Errorf("COL %s: reconcileStatus %q is not a documented value", seed.ID, rs)
			}
			if ps, _ := d["payoutStatus"].(string); !slices.Contains(docPayoutStatuses, ps) {
				t.Errorf("COL %s: payoutStatus %q is not a documented value", seed.ID, ps)
			}
		}
	}
	// The docs sample order: amounts are numbers in major units.
	d := rawGet(t, s, "gc-client", "gc-secret", "global-collection", "/v2/gc/collection-orders/CO-20240501-000123456")
	if d["amount"] != json.Number("1500.00") || d["currency"] != "USD" || d["payAmount"] != json.Number("1495.00") {
		t.Errorf("GC sample amounts = %v %v / %v %v", d["amount"], d["currency"], d["payAmount"], d["payCurrency"])
	}
	c := rawGet(t, s, "col-client", "col-secret", "collection", "/v2/col/transactions/FT24324HCM001")
	if c["amount"] != "2500000" || c["refundedAmount"] != "500000" || c["fee"] != "5500" {
		t.Errorf("COL amounts = %v / %v / %v", c["amount"], c["refundedAmount"], c["fee"])
	}
}

// An order of a sub-merchant is found only with its subMerchantId.
func TestGCOrderOfSubMerchant(t *testing.T) {
	s := start(t, testConfig())
	c := clientsFor(s)
	ctx := t.Context()
	if _, err := c.gc.GetCollectionOrder(ctx, "vi", "CO-20240508-000200007", ""); err == nil {
		t.Fatal("sub-merchant order found without subMerchantId")
	}
	o, err := c.gc.GetCollectionOrder(ctx, "vi", "CO-20240508-000200007", "SUB-MERCH-00091")
	if err != nil || o.ID != "CO-20240508-000200007" || o.Status != "SUCCESS" {
		t.Fatalf("with subMerchantId: %+v %v", o, err)
	}
}
