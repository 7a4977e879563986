package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/traces"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"}, "http://b:4318/custom"},
	} {
		if got := Endpoint(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("Endpoint(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

// TestStartOffWithoutEndpoint: no collector configured, no tracing: Start reports it
// off and its stop function is a no-op.
func TestStartOffWithoutEndpoint(t *testing.T) {
	stop, on, err := Start(context.Background(), "x", func(string) string { return "" })
	if err != nil || on {
		t.Fatalf("Start without an endpoint: on=%v err=%v", on, err)
	}
	if err := stop(context.Background()); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestHandlerJoinsTheCallersTrace: a request with traceparent is served inside a span
// of that trace.
func TestHandlerJoinsTheCallersTrace(t *testing.T) {
	rec := httptest.NewRecorder()
	var seen string
	stop, on, err := Start(context.Background(), "test", func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" {
			return "http://127.0.0.1:1/v1/traces" // nothing listens: spans are dropped
		}
		return ""
	})
	if err != nil || !on {
		t.Fatalf("Start: on=%v err=%v", on, err)
	}
	defer func() { _ = stop(context.Background()) }()
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = spanTraceID(r)
	}), "test")
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(rec, req)
	if seen != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span trace id %q, want the caller's", seen)
	}
}

func spanTraceID(r *http.Request) string {
	return trace.SpanContextFromContext(r.Context()).TraceID().String()
}
