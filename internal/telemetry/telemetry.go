// Package telemetry is what authsvc and mcpbridge share to be observed: OpenTelemetry
// tracing when an OTLP endpoint is configured (each HTTP request a server span, joined
// to the trace the caller, Traefik, started through the W3C traceparent header,
// exported over OTLP/HTTP; without an endpoint nothing runs), and the separate listener
// their Prometheus metrics are served on.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Endpoint is the OTLP/HTTP traces URL the standard variables name:
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT plus
// /v1/traces; "" when neither is set (tracing off).
func Endpoint(getenv func(string) string) string {
	if u := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); u != "" {
		return u
	}
	if u := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")); u != "" {
		return strings.TrimSuffix(u, "/") + "/v1/traces"
	}
	return ""
}

// Start sets up tracing for service when [Endpoint] names a collector, and returns the
// function that flushes and stops it (a no-op when tracing is off) and whether it is
// on. The exporter batches spans (OTEL_BSP_* tune it, as in every OpenTelemetry SDK).
func Start(ctx context.Context, service string, getenv func(string) string) (func(context.Context) error, bool, error) {
	endpoint := Endpoint(getenv)
	if endpoint == "" {
		return func(context.Context) error { return nil }, false, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, false, err
	}
	name := service
	if n := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); n != "" {
		name = n
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(name))),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, true, nil
}

// Handler makes each request h serves a server span ("METHOD /path"), a child of the
// caller's span when the request carries traceparent.
func Handler(h http.Handler, service string) http.Handler {
	return otelhttp.NewHandler(h, service, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	}))
}

// Wrap is what a program's main does with tracing: [Start] it for service, and when
// it is on, wrap h with [Handler] and say where spans go. The returned stop flushes
// the last spans (at most five seconds); call it when the server has stopped.
func Wrap(ctx context.Context, service string, getenv func(string) string, h http.Handler, log *slog.Logger) (http.Handler, func(), error) {
	shutdown, on, err := Start(ctx, service, getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(ctx)
	}
	if on {
		h = Handler(h, service)
		log.Info("tracing to " + Endpoint(getenv))
	}
	return h, stop, nil
}

// ServeMetrics serves h (a Prometheus handler) at GET /metrics on a listener of its
// own at addr, apart from the program's routed port, and returns the function that
// stops it.
func ServeMetrics(addr string, h http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return func() { _ = srv.Close() }, nil
}
