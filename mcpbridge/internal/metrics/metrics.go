// Package metrics holds the bridge's Prometheus metrics, served on --metrics-listen
// (docs/bridge.md "Metrics"): requests by JSON-RPC method and status, their latency,
// the children by state, child start times and exits. The collectors are package
// variables, counted where the events happen (the HTTP handler, the session registry).
package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	// Requests counts HTTP requests to /mcp by JSON-RPC method ([RPC]) and status.
	Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpbridge_requests_total", Help: "Requests to /mcp by JSON-RPC method and HTTP status.",
	}, []string{"rpc", "code"})
	// Duration is the time a request to /mcp took, to its last byte (streams included).
	Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mcpbridge_request_duration_seconds", Help: "Time to answer a request to /mcp, by JSON-RPC method.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 30, 120, 600},
	}, []string{"rpc"})
	// ChildStart is the time to start a child process.
	ChildStart = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "mcpbridge_child_start_seconds", Help: "Time to start a child MCP server process.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5},
	})
	// ChildExits counts children that ended, by what they were: serving a user
	// (session or pool) or a spare nobody had taken yet.
	ChildExits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpbridge_child_exits_total", Help: "Child processes that ended, by what they were (serving or spare).",
	}, []string{"kind"})
	// ChildCrashes counts children that exited without the bridge asking them to (a
	// crash, or a server that cannot start), by what they were.
	ChildCrashes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpbridge_child_crashes_total", Help: "Child processes that exited without the bridge asking them to, by what they were (serving or spare).",
	}, []string{"kind"})
	// Forwarded counts requests served by another replica, by outcome: forwarded and
	// owner_unreachable (answered 404) for another replica's 2025 session, user_owner
	// and user_owner_unreachable (served here instead) for a 2026-07-28 request of a
	// user another replica serves (--peers).
	Forwarded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcpbridge_forwarded_requests_total",
		Help: "Requests for another replica, by outcome: forwarded or owner_unreachable (a 2025 session), user_owner or user_owner_unreachable (a 2026-07-28 user's replica).",
	}, []string{"outcome"})
)

// Counts reports the children by state (serving 2025 sessions, serving 2026-07-28
// pools, and spares) and the users that have a pool.
type Counts func() (sessions, pooled, spares, pools int)

// Registry returns a registry with every bridge metric, a gauge of the children by
// state read from counts, and the Go and process collectors.
func Registry(counts Counts) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(Requests, Duration, ChildStart, ChildExits, ChildCrashes, Forwarded,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for i, state := range []string{"session", "pooled", "spare"} {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mcpbridge_children", Help: "Child MCP server processes by state.",
			ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 {
			s, p, sp, _ := counts()
			return float64([]int{s, p, sp}[i])
		}))
	}
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mcpbridge_pools", Help: "Users with a pool of warm children for their 2026-07-28 requests.",
	}, func() float64 {
		_, _, _, pools := counts()
		return float64(pools)
	}))
	return r
}

// Handler serves r in the Prometheus text format.
func Handler(r *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{})
}

// known are the JSON-RPC methods counted under their own name; any other (a client
// may send anything) is counted as "other", so that labels stay few.
var known = map[string]bool{
	"initialize": true, "ping": true, "server/discover": true, "subscriptions/listen": true,
	"tools/list": true, "tools/call": true, "resources/list": true, "resources/read": true,
	"resources/templates/list": true, "resources/subscribe": true, "resources/unsubscribe": true,
	"prompts/list": true, "prompts/get": true, "completion/complete": true, "logging/setLevel": true,
	"notifications/initialized": true, "notifications/cancelled": true, "notifications/progress": true,
	"notifications/roots/list_changed": true, "batch": true, "response": true,
}

// RPC is the label for a request whose JSON-RPC method is method ("" for requests
// without one: GET streams, DELETE).
func RPC(method string) string {
	switch {
	case method == "":
		return "none"
	case known[method]:
		return method
	case strings.HasPrefix(method, "batch["):
		return "batch"
	}
	return "other"
}
