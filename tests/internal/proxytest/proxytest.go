// Package proxytest holds what the tests' own reverse proxies (the conformance suite's
// bearer-adding proxy, the bridge replicas' round-robin balancer) need to stay out of
// the results.
package proxytest

import (
	"bytes"
	"io"
	"net/http/httputil"
)

// BufferBody makes the proxy send the request body from memory. A Go reverse proxy
// that streams it can cut an event stream the backend opens at once: the transport
// reads the body once more after copying it, and if the answer has started by then the
// server has closed that body, the read fails and the backend connection is torn down
// (golang/go#40747; the mcpauth plugin closes the same window inside Traefik). A test
// proxy must not add failures of its own.
func BufferBody(pr *httputil.ProxyRequest) {
	if pr.In.ContentLength == 0 {
		return
	}
	body, _ := io.ReadAll(pr.In.Body) // a client that went away hears nothing anyway
	pr.Out.Body, pr.Out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
}
