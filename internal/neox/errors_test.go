package neox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

type class int

const (
	classOK class = iota
	classRejected
	classUnknown
	classNotFound
)

func classify(err error) class {
	switch {
	case err == nil:
		return classOK
	case errors.Is(err, ErrNotFound):
		return classNotFound
	case IsUnknown(err):
		return classUnknown
	default:
		if _, ok := IsRejected(err); ok {
			return classRejected
		}
		return -1
	}
}

// faultCases are server behaviours shared by the OpenAPI fault tests.
func openAPIFaults(t *testing.T) []struct {
	name    string
	handler http.HandlerFunc
	want    class
} {
	env := func(status int, code int, msg string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, status, map[string]any{"code": code, "state": 3, "message": msg, "neoResponseId": "nr-x"})
		}
	}
	return []struct {
		name    string
		handler http.HandlerFunc
		want    class
	}{
		{"success", gcOK, classOK},
		{"processing 99", env(200, 99, "Processing"), classOK},
		{"rejected code 2", env(200, 2, "INSUFFICIENT_BALANCE"), classRejected},
		{"rejected 4xx envelope", env(400, 400, "VALIDATION_ERROR"), classRejected},
		{"not found code 2", env(200, 2, "RESOURCE_NOT_FOUND"), classNotFound},
		{"not found HTTP 404 envelope", env(404, 404, "Not Found"), classNotFound},
		{"duplicate request id", env(200, 2, "DUPLICATE_REQUEST_ID"), classUnknown},
		{"HTTP 500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, classUnknown},
		{"HTTP 502 with envelope", env(502, 2, "bad gateway"), classUnknown},
		{"code 500 in 200", env(200, 500, "internal"), classUnknown},
		{"malformed body", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>oops") }, classUnknown},
		{"4xx without envelope", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", 403) }, classUnknown},
		{"unexpected code", env(200, 7, "?"), classUnknown},
		{"body over 1 MiB", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"code":1,"message":"`+strings.Repeat("x", maxBody)+`"}`)
		}, classUnknown},
		{"connection cut after reading request", func(w http.ResponseWriter, r *http.Request) { hijackClose(t, w) }, classUnknown},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, classUnknown},
	}
}

func TestGCRefundFaults(t *testing.T) {
	for _, tt := range openAPIFaults(t) {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAPI(t, tt.handler)
			cfg := f.config()
			cfg.Timeout = 200 * time.Millisecond
			_, err := NewGC(cfg, nil).Refund(context.Background(), "vi", gcRequest("id-1"))
			if got := classify(err); got != tt.want {
				t.Fatalf("class = %d, want %d (err %v)", got, tt.want, err)
			}
			if dup := errors.Is(err, ErrDuplicateRequestID); dup != strings.HasPrefix(tt.name, "duplicate") {
				t.Fatalf("errors.Is(err, ErrDuplicateRequestID) = %v (err %v)", dup, err)
			}
			if err != nil && strings.Contains(err.Error(), "csecret") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestRejectedErrorFields(t *testing.T) {
	f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"code": 2, "message": "INSUFFICIENT_BALANCE", "neoResponseId": "nr-77"})
	})
	_, err := NewGC(f.config(), nil).Refund(context.Background(), "vi", gcRequest("id-1"))
	rej, ok := IsRejected(err)
	if !ok {
		t.Fatalf("not rejected: %v", err)
	}
	want := RejectedError{API: "GC", Op: "refund", Code: "2", Message: "INSUFFICIENT_BALANCE", NeoResponseID: "nr-77"}
	if *rej != want {
		t.Fatalf("rejection = %+v", *rej)
	}
	if errors.Is(err, ErrNotFound) || IsUnknown(err) {
		t.Fatal("misclassified")
	}
}

func TestConnectionRefusedIsUnknown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = NewPG(PGConfig{BaseURL: "http://" + addr, MerchantCode: "M", SecretKey: "k"}, nil).
		Refund(context.Background(), "vi", PGRefundRequest{RequestID: "r", PaymentID: "p", Amount: 1})
	if !IsUnknown(err) {
		t.Fatalf("err = %v, want unknown", err)
	}
	_, err = NewCOL(OpenAPIConfig{BaseURL: "http://" + addr}, nil).GetRefund(context.Background(), "vi", "r")
	if !IsUnknown(err) {
		t.Fatalf("err = %v, want unknown", err)
	}
}

func TestCallerContextCancelIsUnknown(t *testing.T) {
	f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := NewCOL(f.config(), nil).Refund(ctx, "vi", COLRefundRequest{RequestID: "r", CollectionTransID: "t", Amount: 1})
	if !IsUnknown(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want unknown wrapping DeadlineExceeded", err)
	}
}

func TestInvalidInputSendsNothing(t *testing.T) {
	f := newFakeOpenAPI(t, gcOK)
	ctx := context.Background()
	errs := []error{
		func() error {
			_, err := NewGC(f.config(), nil).Refund(ctx, "vi", GCRefundRequest{RequestID: "r", CollectionOrderID: "c", FeeChargeWay: "X"})
			return err
		}(),
		func() error {
			_, err := NewGC(f.config(), nil).Refund(ctx, "vi", GCRefundRequest{CollectionOrderID: "c", FeeChargeWay: "OUR"})
			return err
		}(),
		func() error {
			_, err := NewCOL(f.config(), nil).Refund(ctx, "vi", COLRefundRequest{RequestID: "r", CollectionTransID: "t"})
			return err
		}(),
		func() error {
			_, err := NewCOL(f.config(), nil).ListRefunds(ctx, "vi", COLListQuery{PageSize: 501})
			return err
		}(),
	}
	for i, err := range errs {
		if err == nil || IsUnknown(err) {
			t.Errorf("case %d: err = %v, want a plain validation error", i, err)
		}
		if _, ok := IsRejected(err); ok {
			t.Errorf("case %d: validation error must not look like a NeoX rejection", i)
		}
	}
	if b, _ := f.requests(); len(b) != 0 || f.tokens() != 0 {
		t.Fatalf("sent %d requests, %d token calls", len(b), f.tokens())
	}
}

func TestConfigRedaction(t *testing.T) {
	pg := PGConfig{BaseURL: "https://pg", MerchantCode: "M", SecretKey: "S3CRET-PG"}
	oa := OpenAPIConfig{BaseURL: "https://oa", ClientID: "id", ClientSecret: "S3CRET-OA"}
	for _, s := range []string{
		fmt.Sprint(pg), fmt.Sprintf("%+v", pg), fmt.Sprintf("%#v", pg), fmt.Sprintf("%v", &pg),
		fmt.Sprint(oa), fmt.Sprintf("%+v", oa), fmt.Sprintf("%#v", oa),
		pg.LogValue().String(), oa.LogValue().String(),
	} {
		if strings.Contains(s, "S3CRET") || !strings.Contains(s, "***") {
			t.Errorf("not redacted: %s", s)
		}
	}
}
