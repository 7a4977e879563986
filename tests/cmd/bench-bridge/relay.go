package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// The minimal relay: the least an HTTP wrapper of a stdio server can do. One child per
// session, started and initialized at the client's initialize; a request's body is
// written to the child's stdin by the request's own goroutine, which then reads the
// child's stdout until the answer and writes it back. No JSON-RPC checks beyond the id,
// no identity, no limits, no streams, no goroutine in between. It is a reference for
// the bridge's own cost, not a server anyone should run: this program serves it with
// -serve-relay.

// relayChild is the child of one session, started and initialized as direct stdio's;
// one request at a time.
type relayChild struct {
	mu sync.Mutex
	c  *stdioClient
}

func (r *relayChild) roundTrip(msg []byte, id json.RawMessage) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c.exchange(msg, id)
}

// serveRelay serves the minimal relay for the stdio server argv at addr.
func serveRelay(addr string, argv []string) error {
	var mu sync.Mutex
	children := map[string]*relayChild{}
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if m.Method == "initialize" {
			c, err := newStdio(argv, "")
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			mu.Lock()
			sid := "relay-" + strconv.Itoa(len(children))
			children[sid] = &relayChild{c: c.(*stdioClient)}
			mu.Unlock()
			w.Header().Set("Mcp-Session-Id", sid)
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"relay","version":"1"}}}`, m.ID)
			return
		}
		if m.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		mu.Lock()
		c := children[r.Header.Get("Mcp-Session-Id")]
		mu.Unlock()
		if c == nil {
			http.Error(w, "unknown session", http.StatusNotFound)
			return
		}
		answer, err := c.roundTrip(body, m.ID)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write(answer)
	}))
}
