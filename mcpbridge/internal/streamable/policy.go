package streamable

import (
	"net/http"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/policy"
)

// Identity headers the mcpauth plugin injects beside X-User-Id.
const (
	HeaderUserLogin = "X-User-Login"
	HeaderScopes    = "X-Auth-Scopes"
)

// caller is the identity the plugin vouched for.
func caller(r *http.Request) policy.Caller {
	return policy.Caller{ID: r.Header.Get(HeaderUserID), Login: r.Header.Get(HeaderUserLogin),
		Scopes: strings.Fields(r.Header.Get(HeaderScopes))}
}

// checkTools applies the tool policy to the tools/call requests of a POST. A lone
// refused call is answered at once with a JSON-RPC error naming the reason (the child
// never sees it); a batch holding one is refused whole with 403.
func (h *Handler) checkTools(w *recorder, r *http.Request, msgs []*jsonrpc.Message, batch bool) error {
	if !h.policy.Active() {
		return nil
	}
	who := caller(r)
	for _, m := range msgs {
		if m.Kind != jsonrpc.KindRequest || m.Method != "tools/call" {
			continue
		}
		ok, why := h.policy.Allowed(m.RequestMeta().Name, who)
		if ok {
			continue
		}
		if batch {
			return &httpError{status: http.StatusForbidden, code: jsonrpc.CodeInvalidParams, message: "Forbidden: " + why}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.wrote = true
		_, err := w.Write(jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInvalidParams, "Forbidden: "+why))
		return err
	}
	return nil
}

// toolFilter returns what rewrites the answers to the tools/list requests of a POST so
// they list only the tools the caller may call; nil when nothing needs it.
func (h *Handler) toolFilter(r *http.Request, msgs []*jsonrpc.Message) func([]byte) []byte {
	if !h.policy.Active() {
		return nil
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		if m.Kind == jsonrpc.KindRequest && m.Method == "tools/list" {
			ids[string(m.ID)] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	who := caller(r)
	return func(msg []byte) []byte {
		m, err := jsonrpc.Parse(msg)
		if err != nil || m.Kind != jsonrpc.KindResponse || !ids[string(m.ID)] || m.Result() == nil {
			return msg
		}
		return m.WithResult(h.policy.FilterTools(m.Result(), who))
	}
}
