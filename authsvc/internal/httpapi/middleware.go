// middleware.go holds the HTTP plumbing that is not OAuth: middleware (request
// log, panic recovery, body limit, security headers), the request-scoped log fields
// handlers can add to, and source-address extraction behind trusted proxies.

package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies mw so that the first one is the outermost.
func Chain(h http.Handler, mw ...Middleware) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

type infoKey struct{}

// requestInfo collects what the request log line reports beyond method, path and
// status. Handlers fill it through [SetClientID]; it is shared by pointer so values
// set deep in a handler reach the logging middleware.
type requestInfo struct {
	mu       sync.Mutex
	clientID string
	route    string // the route table's path pattern, set by [namedRoute]
}

// SetClientID records the OAuth client a request concerns, for the request log line.
// Only ever pass a client_id here, never a secret or token. Without the logging
// middleware it does nothing.
func SetClientID(ctx context.Context, clientID string) {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		info.mu.Lock()
		info.clientID = clientID
		info.mu.Unlock()
	}
}

// ClientIDFromContext returns the client id set by [SetClientID], or "".
func ClientIDFromContext(ctx context.Context) string {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		info.mu.Lock()
		defer info.mu.Unlock()
		return info.clientID
	}
	return ""
}

// namedRoute names the route h serves (its path pattern, never the raw path) for the
// request's metrics, which the logging middleware records with the status and time it
// measures anyway. Requests that match no route are not counted.
func namedRoute(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(infoKey{}).(*requestInfo); ok {
			info.mu.Lock()
			info.route = pattern
			info.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status code for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Logging writes one info line per request: method, path (never the query, which can
// carry codes and state), status, duration, bytes, and client_id when a handler set one;
// and counts the request and its time in the metrics under the route [namedRoute] named.
func Logging(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info := &requestInfo{}
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			took := time.Since(start)
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(took.Microseconds())/1000),
				slog.Int64("bytes", sw.bytes),
			}
			info.mu.Lock()
			if info.clientID != "" {
				attrs = append(attrs, slog.String("client_id", info.clientID))
			}
			route := info.route
			info.mu.Unlock()
			if route != "" {
				metrics.Requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
				metrics.Duration.WithLabelValues(route).Observe(took.Seconds())
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		})
	}
}

// Recover turns a panic in a handler into a logged 500 server_error, so
// one bad request never takes the process down. http.ErrAbortHandler is re-raised:
// it is net/http's own way to abort a response.
func Recover(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				WriteError(w, r, log, auth.ErrServerError)
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// LimitBody caps every request body at n bytes. Handlers that decode bodies see an
// *http.MaxBytesError once the cap is passed and answer 413.
func LimitBody(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				WriteError(w, r, nil, auth.ErrRequestTooLarge.WithDescription("the request body is larger than %d bytes", n))
				return
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// SecurityHeaders sets headers every authsvc response should carry: no MIME sniffing,
// no framing (the consent page sets its own stricter CSP on top), no referrer leaks
// of codes in URLs.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}
