package health

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
)

// CheckBridge performs an initialize handshake with the bridge at url (its /mcp
// endpoint), checks the protocol version, and ends the session it created.
func CheckBridge(ctx context.Context, client *http.Client, url string, versions []string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(InitializeRequest(versions[0], 1)))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%w: HTTP %d: %s", ErrHandshake, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid != "" {
		defer endSession(client, url, sid, versions[0])
	}
	m, err := readResponse(resp)
	if err != nil {
		return err
	}
	return checkResult(m, versions)
}

// readResponse finds the response with id 1 in a JSON or event-stream body.
func readResponse(resp *http.Response) (*jsonrpc.Message, error) {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	body := io.LimitReader(resp.Body, 4<<20)
	if mt == "application/json" {
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
		m, err := jsonrpc.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
		return m, nil
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		m, err := jsonrpc.Parse([]byte(strings.TrimSpace(data)))
		if err == nil && m.Kind == jsonrpc.KindResponse && string(m.ID) == "1" {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: the event stream ended without the initialize response", ErrHandshake)
}

func endSession(client *http.Client, url, sid, version string) {
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", version)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
	}
}
