package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
)

// The minimal relay: the least an HTTP wrapper of a stdio server can do. One child per
// session, started and initialized at the client's initialize; a request's body is
// written to the child's stdin by the request's own goroutine, which then reads the
// child's stdout until the answer and writes it back. No JSON-RPC checks beyond the id,
// no identity, no limits, no streams, no goroutine in between. It is a reference for
// the bridge's own cost, not a server anyone should run: this program serves it with
// -serve-relay.

// relayChild is the child of one session; one request at a time.
type relayChild struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
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
			c, err := startRelayChild(argv)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			mu.Lock()
			sid := "relay-" + strconv.Itoa(len(children))
			children[sid] = c
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

// startRelayChild starts and initializes one child; it ends with this process.
func startRelayChild(argv []string) (*relayChild, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &relayChild{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	init := `{"jsonrpc":"2.0","id":"relay-init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"relay","version":"1"}}}`
	if _, err := c.roundTrip([]byte(init), json.RawMessage(`"relay-init"`)); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"); err != nil {
		return nil, err
	}
	return c, nil
}

// roundTrip writes one message and returns the child's answer to id, skipping
// anything else the child writes.
func (c *relayChild) roundTrip(msg []byte, id json.RawMessage) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.in.Write(append(bytes.TrimSpace(msg), '\n')); err != nil {
		return nil, err
	}
	want := append([]byte(`"id":`), id...)
	for {
		line, err := c.out.ReadBytes('\n')
		if err != nil {
			return nil, errors.Join(errors.New("relay: child output"), err)
		}
		if bytes.Contains(line, want) && !bytes.Contains(line, []byte(`"method"`)) {
			return line, nil
		}
	}
}
