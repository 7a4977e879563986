package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
)

// unavailable is implemented by storage errors (see auth.ErrUnavailable): the
// backend is down, which the client should hear as 503, not as its own fault.
type unavailable interface{ Unavailable() bool }

// NoStore sets the headers that keep tokens and registration documents out of every
// cache (RFC 6749 §5.1, RFC 7591 §3.2.1).
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// WriteJSON writes v as a JSON response with status and no-store caching. Every
// token, registration and metadata response goes through it.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unmarshalable type) gets here.
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error","error_description":"internal error"}`)
	}
	NoStore(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteError is the one place an error becomes an HTTP response.
//   - An [*auth.Error] is sent as is (its cause, if any, is logged at warn).
//   - An *http.MaxBytesError becomes 413.
//   - A storage outage (an error with Unavailable() true) becomes 503
//     temporarily_unavailable, logged at error.
//   - Anything else becomes 500 server_error, logged at error with the real cause;
//     the client sees only "internal error".
//
// Every 401 gets a WWW-Authenticate header. log may be nil (slog.Default is used).
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if log == nil {
		log = slog.Default()
	}
	e := classify(r, log, err)
	metrics.OAuthErrors.WithLabelValues(e.Code).Inc()
	if e == auth.ErrTemporarilyUnavailable {
		metrics.RedisErrors.Inc()
	}
	if e.Status == http.StatusUnauthorized {
		challenge := e.Challenge
		if challenge == "" {
			challenge = BearerChallenge(e.Code, e.Description)
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	WriteJSON(w, e.Status, body)
}

func classify(r *http.Request, log *slog.Logger, err error) *auth.Error {
	var maxBytes *http.MaxBytesError
	var down unavailable
	switch e := auth.AsError(err); {
	case e != nil:
		if e.Unwrap() != nil {
			log.LogAttrs(r.Context(), slog.LevelWarn, "request refused", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		}
		return e
	case errors.As(err, &maxBytes):
		return auth.ErrRequestTooLarge.WithDescription("the request body is larger than %d bytes", maxBytes.Limit)
	case errors.As(err, &down) && down.Unavailable():
		log.LogAttrs(r.Context(), slog.LevelError, "storage unavailable", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		return auth.ErrTemporarilyUnavailable
	default:
		log.LogAttrs(r.Context(), slog.LevelError, "internal error", slog.String("path", r.URL.Path), slog.String("error", errString(err)))
		return auth.ErrServerError
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil error passed to WriteError>"
	}
	return err.Error()
}

// BearerChallenge builds an RFC 6750 §3 WWW-Authenticate value. Quotes and
// backslashes in the description are dropped rather than escaped: the value is a
// quoted-string and clients parse it loosely.
func BearerChallenge(code, description string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="authsvc"`)
	if code != "" {
		b.WriteString(`, error="` + quoteSafe(code) + `"`)
	}
	if description != "" {
		b.WriteString(`, error_description="` + quoteSafe(description) + `"`)
	}
	return b.String()
}

// BasicChallenge is the WWW-Authenticate value for failed client_secret_basic
// authentication (RFC 6749 §5.2).
const BasicChallenge = `Basic realm="authsvc", charset="UTF-8"`

func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
