package mcpauth

import (
	"net/http"
	"strconv"
)

// challenge answers a request without a Bearer token: 401 pointing at the metadata
// (RFC 9728 §5.1), with the scope to ask for: the route's required scopes, else the
// scopes its metadata lists.
func challenge(m *Middleware, w http.ResponseWriter) {
	v := `Bearer resource_metadata="` + m.s.prmURL + `"`
	if m.s.challengeScope != "" {
		v += `, scope="` + m.s.challengeScope + `"`
	}
	writeError(m, w, http.StatusUnauthorized, v, "unauthorized", "a Bearer access token is required")
}

// fail answers with an RFC 6750 error. desc comes from this package's fixed error
// messages, never from the request, so it needs no escaping.
func fail(m *Middleware, w http.ResponseWriter, status int, code, desc string) {
	v := `Bearer resource_metadata="` + m.s.prmURL + `", error="` + code + `", error_description="` + desc + `"`
	if code == "insufficient_scope" && m.s.scopeParam != "" {
		v += `, scope="` + m.s.scopeParam + `"`
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
		v = ""
	}
	writeError(m, w, status, v, code, desc)
}

func writeError(m *Middleware, w http.ResponseWriter, status int, challenge, code, desc string) {
	h := w.Header()
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `","error_description":"` + desc + `"}`))
}

// serveMetadata serves the RFC 9728 document. It is public, so any origin may read it.
func serveMetadata(m *Middleware, w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		writeError(m, w, http.StatusMethodNotAllowed, "", "invalid_request", "method not allowed")
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Length", strconv.Itoa(len(m.s.prmBody)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(m.s.prmBody)
	}
}

// corsOrigin returns the request's Origin when it is allowed, and then marks the
// response readable by it, exposing what MCP clients need to read.
func corsOrigin(m *Middleware, w http.ResponseWriter, r *http.Request) string {
	o := r.Header.Get("Origin")
	if o == "" || (!m.s.corsAll && !m.s.corsOrigins[o]) {
		return ""
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", o)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate")
	return o
}

// servePreflight answers a CORS preflight at the edge: it carries no token, so it
// must never reach the MCP service. Allowed origins get the CORS grant; others get a
// bare 204 that the browser treats as a refusal.
func servePreflight(m *Middleware, w http.ResponseWriter, origin string) {
	h := w.Header()
	if origin != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
	}
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
