package streamable

import (
	"net/http"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/policy"
)

// caller is the identity the plugin vouched for.
func caller(r *http.Request) policy.Caller {
	return policy.Caller{ID: r.Header.Get(contract.HeaderUserID), Login: r.Header.Get(contract.HeaderUserLogin),
		Scopes: strings.Fields(r.Header.Get(contract.HeaderScopes))}
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

// toolsListHook returns what every answer to a tools/list request of a POST goes
// through before the client sees it: the Mcp-Param-* annotations are learnt from it, and
// with a tool policy it lists only the tools the caller may call. nil when the POST has
// no tools/list request.
func (h *Handler) toolsListHook(r *http.Request, msgs []*jsonrpc.Message) func([]byte) []byte {
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
		m, err := jsonrpc.Reparse(msg)
		if err != nil || m.Kind != jsonrpc.KindResponse || !ids[string(m.ID)] || m.Result() == nil {
			return msg
		}
		h.params.observe(m.Result())
		if !h.policy.Active() {
			return msg
		}
		return m.WithResult(h.policy.FilterTools(m.Result(), who))
	}
}
