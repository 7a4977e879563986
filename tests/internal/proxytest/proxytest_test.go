package proxytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"
)

func TestBufferBodySendsTheBodyFromMemory(t *testing.T) {
	in := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0"}`))
	pr := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
	BufferBody(pr)
	if rest, _ := io.ReadAll(in.Body); len(rest) != 0 {
		t.Fatalf("the inbound body still holds %q", rest)
	}
	got, err := io.ReadAll(pr.Out.Body)
	if err != nil || string(got) != `{"jsonrpc":"2.0"}` || pr.Out.ContentLength != int64(len(got)) {
		t.Fatalf("outbound body %q (%v), length %d", got, err, pr.Out.ContentLength)
	}
	// Read again after close (what the transport's final check does): still EOF.
	_ = pr.Out.Body.Close()
	if n, err := pr.Out.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read after close: %d, %v", n, err)
	}
}
