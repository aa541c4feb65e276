package handlers

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/handlers/api"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

type openAPIDoc struct {
	OpenAPI    string                               `json:"openapi"`
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Required   []string                  `json:"required"`
			Properties map[string]map[string]any `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func readOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: every /api/v1 route of the route table is
// documented with its method, and nothing documented is missing from it.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := readOpenAPI(t)
	routes := map[string][]string{}
	for _, rt := range (&Server{}).routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if strings.HasPrefix(path, "/api/") {
			routes[path] = append(routes[path], strings.ToLower(method))
		}
	}
	documented := map[string][]string{}
	for path, ops := range doc.Paths {
		for m := range ops {
			if slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}, m) {
				documented[path] = append(documented[path], m)
			}
		}
	}
	for _, m := range []map[string][]string{routes, documented} {
		for _, ms := range m {
			slices.Sort(ms)
		}
	}
	if len(routes) < 3 {
		t.Fatalf("found %d API routes", len(routes))
	}
	for path, ms := range routes {
		if !slices.Equal(ms, documented[path]) {
			t.Errorf("%s: routes %v, documented %v", path, ms, documented[path])
		}
	}
	for path, ms := range documented {
		if _, ok := routes[path]; !ok {
			t.Errorf("%s %v documented but not routed", path, ms)
		}
	}
}

// TestOpenAPIDescribesTheJSON: the Refund and RefundPage schemas list
// exactly the fields the handlers return (all of them required), and the
// request schema the fields the handler reads; the document is served.
func TestOpenAPIDescribesTheJSON(t *testing.T) {
	doc := readOpenAPI(t)
	a := newAPIEnv(t, 0)
	_, token := a.key("erp", policy.ScopeRead|policy.ScopeCreate)
	created := a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 1000), nil)
	if created.status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	list := a.call("GET", "/api/v1/refunds", token, "", nil)
	var page map[string]json.RawMessage
	if err := json.Unmarshal([]byte(list.body), &page); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(page["refunds"], &rows); err != nil || len(rows) != 1 {
		t.Fatalf("list %s: %v", list.body, err)
	}
	var one map[string]any
	if err := json.Unmarshal([]byte(created.body), &one); err != nil {
		t.Fatal(err)
	}
	check := func(schema string, got []string) {
		t.Helper()
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Fatalf("no schema %s", schema)
		}
		props := slices.Sorted(maps.Keys(s.Properties))
		slices.Sort(got)
		if !slices.Equal(props, got) {
			t.Errorf("%s: documented %v\nreturned %v", schema, props, got)
		}
		req := slices.Clone(s.Required)
		slices.Sort(req)
		if !slices.Equal(req, got) {
			t.Errorf("%s: required %v, want every returned field", schema, req)
		}
	}
	check("Refund", slices.Collect(maps.Keys(one)))
	check("Refund", slices.Collect(maps.Keys(rows[0])))
	check("RefundPage", slices.Collect(maps.Keys(page)))

	var reqFields []string
	for f := range jsonFields(apiRefundRequest{}) {
		reqFields = append(reqFields, f)
	}
	slices.Sort(reqFields)
	if props := slices.Sorted(maps.Keys(doc.Components.Schemas["RefundRequest"].Properties)); !slices.Equal(props, reqFields) {
		t.Errorf("RefundRequest: documented %v, read %v", props, reqFields)
	}

	served := a.call("GET", "/api/v1/openapi.json", "", "", nil)
	if served.status != http.StatusOK || served.body != string(api.OpenAPI) || served.header.Get("Content-Type") != "application/json" {
		t.Errorf("served: %d %q", served.status, served.header.Get("Content-Type"))
	}
}

// jsonFields are the JSON names of v's fields.
func jsonFields(v any) map[string]bool {
	var m map[string]any
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &m)
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}
