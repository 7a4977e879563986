package traefiktest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// EchoHeader marks responses that came from the echo backend.
const EchoHeader = "X-Echo-Backend"

// Echo is what the echo backend saw.
type Echo struct {
	Method     string              `json:"method"`
	RequestURI string              `json:"requestURI"`
	Header     map[string][]string `json:"header"`
}

// EchoBackend starts a loopback backend that answers every request with 200, the
// EchoHeader and a JSON Echo of the request line and headers (as Go's server keyed
// them: canonical for valid names, as sent for names like X_User_Id).
func EchoBackend(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(EchoHeader, "reached")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Echo{Method: r.Method, RequestURI: r.RequestURI, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// RawRequest sends one HTTP/1.1 request to addr exactly as given: the request target
// is written verbatim (so "//mcp" or "/%2e/mcp" survive) and header names keep their
// spelling (so "X_User_Id" and duplicates reach the server).
func RawRequest(addr, method, target, host string, header http.Header) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	for name, vals := range header {
		if strings.EqualFold(name, "Host") || strings.EqualFold(name, "Connection") {
			continue
		}
		for _, v := range vals {
			fmt.Fprintf(&b, "%s: %s\r\n", name, v)
		}
	}
	b.WriteString("Content-Length: 0\r\nConnection: close\r\n\r\n")
	w := bufio.NewWriterSize(conn, 64<<10)
	if _, err := w.WriteString(b.String()); err != nil {
		return nil, nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}
