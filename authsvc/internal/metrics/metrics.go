// Package metrics holds authsvc's Prometheus metrics, served on METRICS_LISTEN_ADDR
// (docs/authsvc.md "Metrics"). The collectors are package variables so that the
// package that observes an event (the request log, the error writer, the token endpoint)
// counts it where it happens; [Registry] exports them with the Go runtime's and the
// process's own.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	// Requests counts HTTP requests by route (the route table's path pattern, never
	// the raw path), method and status code.
	Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authsvc_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	// Duration is the time to answer, by route.
	Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "authsvc_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	// OAuthErrors counts error responses by their OAuth error code (invalid_grant,
	// temporarily_unavailable, …): refusals by reason.
	OAuthErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authsvc_oauth_errors_total", Help: "Error responses by OAuth error code.",
	}, []string{"error"})
	// RedisErrors counts requests that failed because Redis did not answer.
	RedisErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authsvc_redis_errors_total", Help: "Requests answered 503 because Redis failed or timed out.",
	})
	// TokensIssued counts successful token responses by grant type.
	TokensIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authsvc_tokens_issued_total", Help: "Access tokens issued, by grant type.",
	}, []string{"grant_type"})
	// Registrations counts clients registered through POST /register.
	Registrations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authsvc_client_registrations_total", Help: "Clients registered through POST /register.",
	})
	// Revocations counts what this process revoked, by reason.
	Revocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authsvc_revocations_total",
		Help: "Revocations made by this process, by reason: revoke_refresh_token and revoke_access_token (POST /revoke), refresh_reuse, code_replay, client_deleted (DELETE /register/{client_id}).",
	}, []string{"reason"})
	// RefreshReuse counts refresh tokens presented again after their rotation (the
	// family is revoked).
	RefreshReuse = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "authsvc_refresh_reuse_total", Help: "Rotated refresh tokens presented again (their family is revoked).",
	})
)

// Registry holds every authsvc metric and the Go and process collectors.
var Registry = func() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(Requests, Duration, OAuthErrors, RedisErrors, TokensIssued, RefreshReuse, Registrations, Revocations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}()

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{})
}
