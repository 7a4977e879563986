package mcpauth

import "io"

// declaredBody ends a request body after its declared Content-Length, without asking
// the body underneath again. It works around a race in Go's HTTP/1 server and client,
// which Traefik's proxy inherits (golang/go#40747): the transport copies the declared
// bytes straight to the backend and then reads the body once more to check it is not
// longer; if the backend answers first (an MCP server opening an event stream), writing
// those response headers makes Traefik's server drain and close the inbound body, the
// extra read fails with "invalid Read on closed Body", the transport tears down the
// backend connection, and the client's stream is cut after its first events. Measured
// through Traefik v3.6 without this wrapper: 13 of 2400 fast event streams cut
// (tests/traefik TestStreamedAnswersArriveWhole).
type declaredBody struct {
	body io.ReadCloser
	left int64
}

func (b *declaredBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:int(b.left)]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if b.left <= 0 {
		err = io.EOF
	}
	return n, err
}

func (b *declaredBody) Close() error { return b.body.Close() }
